// android-demo: open this directory in Android Studio. `colbert` is the pure-Kotlin library (also built by
// Maven from colbert/pom.xml, which is what CI runs); `app` is the Jetpack Compose search app.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "colbert-android"
include(":colbert", ":app")
