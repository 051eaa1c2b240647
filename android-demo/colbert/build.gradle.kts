// The same sources (src/main/kotlin, src/test/kotlin, src/main/resources) and versions as pom.xml.
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation(libs.kotlinx.coroutines.core)
    implementation(libs.kotlinx.serialization.json)
    // the JVM build for tests and the CLI; the app swaps in onnxruntime-android (same API, same version)
    compileOnly(libs.onnxruntime.jvm)
    testImplementation(libs.onnxruntime.jvm)
    testImplementation(libs.javacpp.tflite)
    testImplementation(variantOf(libs.javacpp.tflite) { classifier("linux-x86_64") })
    testImplementation(variantOf(libs.javacpp) { classifier("linux-x86_64") })
    testImplementation(libs.junit.jupiter)
    testRuntimeOnly(libs.junit.platform.launcher)
}

tasks.test {
    useJUnitPlatform()
    maxHeapSize = "3g"
    // the inputs tests/test_android_demo.py passes (MXBAI_TOKENIZER, MINILM_TOKENIZER, COLBERT_BUNDLES) come from the environment
}
