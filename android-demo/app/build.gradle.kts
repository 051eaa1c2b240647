// The Compose search app. Not built on the machine this was written on (no Android SDK, no Google Maven):
// see android-demo/README.md for what is verified where.
plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

android {
    namespace = "edgecolbert.search"
    compileSdk = 36

    defaultConfig {
        applicationId = "edgecolbert.search"
        minSdk = 26
        targetSdk = 36 // Google Play's requirement for new apps and updates from 31 August 2026
        versionCode = 1
        versionName = "0.1.0"
    }

    sourceSets["main"].assets.srcDirs(
        "src/main/assets", // put an exported bundle in src/main/assets/bundle/ (README)
        "../../samples", // sample-corpus.json, the one sample corpus every port reads (samples/ holds data only)
    )

    androidResources {
        // bundles are read in place and hashed as streams: keep them stored, not deflated
        noCompress += listOf("onnx", "tflite", "pte", "json", "cbindex")
    }

    packaging {
        // 16 KB pages: native libraries stay uncompressed and page-aligned in the APK (AGP 8.5.1+ aligns them);
        // onnxruntime-android 1.29 ships 16 KB-aligned .so files, and no other native tokenizer library is used
        jniLibs.useLegacyPackaging = false
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    buildFeatures { compose = true }
}

kotlin { jvmToolchain(17) }

dependencies {
    implementation(project(":colbert"))
    implementation(libs.onnxruntime.android)
    implementation(libs.litert)
    implementation(libs.executorch.android)
    implementation(libs.kotlinx.coroutines.android)
    implementation(libs.kotlinx.serialization.json)
    implementation(platform(libs.androidx.compose.bom))
    implementation(libs.androidx.compose.material3)
    implementation(libs.androidx.compose.ui)
    implementation(libs.androidx.compose.ui.tooling.preview)
    implementation(libs.androidx.activity.compose)
    implementation(libs.androidx.lifecycle.viewmodel.compose)
    implementation(libs.androidx.lifecycle.runtime.compose)
    implementation(libs.androidx.documentfile)
    debugImplementation(libs.androidx.compose.ui.tooling)
}
