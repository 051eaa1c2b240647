package edgecolbert.colbert.cli

import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive

/** JSON values for the CLI's one line of output: keys sorted, non-finite numbers as null. */
internal fun obj(vararg pairs: Pair<String, JsonElement>): JsonObject = JsonObject(sortedMapOf(*pairs))

internal fun num(x: Double): JsonElement = if (x.isFinite()) JsonPrimitive(x) else JsonNull
internal fun num(x: Float): JsonElement = if (x.isFinite()) JsonPrimitive(x) else JsonNull
internal fun num(x: Number): JsonElement = JsonPrimitive(x)
internal fun str(s: String): JsonElement = JsonPrimitive(s)
internal fun bool(b: Boolean): JsonElement = JsonPrimitive(b)
internal fun arr(items: List<JsonElement>): JsonArray = JsonArray(items)
