package edgecolbert.colbert

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.Assumptions.assumeTrue
import java.nio.file.Paths

/** TFLite bundles (COLBERT_TFLITE_BUNDLES) through the bucket path, on the JavaCPP stand-in for LiteRT. */
class TfliteBundlesTest {
    private val bundles = System.getenv("COLBERT_TFLITE_BUNDLES").orEmpty().split(':').filter { it.isNotBlank() }.map(Paths::get)
    private val engines = mapOf("tflite" to JavaCppTfliteEncoder)

    @Test
    fun `a TFLite bundle passes its self-test through the buckets, and refuses what no bucket holds`() {
        assumeTrue(bundles.isNotEmpty(), "COLBERT_TFLITE_BUNDLES names no bundles (tests/test_android_demo.py sets it)")
        for (bundle in bundles) {
            ColbertModel.open(DirectoryFiles(bundle), EngineOptions(threads = 1), engines).use { model ->
                val report = model.selfTest()
                assertTrue(report.passed && report.idsExact, "$bundle: $report")
                val settings = model.settings
                assertTrue(settings.io.buckets.isNotEmpty())
                val longest = settings.io.buckets.filter { it.kind == InputKind.DOCUMENT }.maxOf { it.length }
                val tooLong = model.tokenizer.pad(listOf(IntArray(longest + 1) { settings.padTokenId }), InputKind.DOCUMENT)
                val e = assertThrows<ColbertException> { encodeInBuckets(settings, tooLong, InputKind.DOCUMENT) { _, _, _ -> FloatArray(0) } }
                assertEquals("input_past_bound", e.kind)
            }
        }
    }
}
