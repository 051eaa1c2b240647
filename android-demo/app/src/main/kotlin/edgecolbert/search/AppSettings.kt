package edgecolbert.search

import android.content.Context

/** The settings screen's choices, kept in SharedPreferences. */
data class AppSettings(val threads: Int = 2, val xnnpack: Boolean = true, val target: String = "onnx") {
    companion object {
        val TARGETS = listOf("onnx", "tflite", "executorch")

        fun load(context: Context): AppSettings {
            val p = context.getSharedPreferences("settings", Context.MODE_PRIVATE)
            return AppSettings(p.getInt("threads", 2), p.getBoolean("xnnpack", true), p.getString("target", "onnx") ?: "onnx")
        }
    }

    fun save(context: Context) {
        context.getSharedPreferences("settings", Context.MODE_PRIVATE).edit()
            .putInt("threads", threads).putBoolean("xnnpack", xnnpack).putString("target", target).apply()
    }
}
