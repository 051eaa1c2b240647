package edgecolbert.colbert

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import java.nio.ByteBuffer
import java.nio.charset.CharacterCodingException
import java.nio.charset.CodingErrorAction

/** A bundle's JSON file as a tree; Malformed when it is not UTF-8 JSON. */
internal fun parseJson(bytes: ByteArray, file: String): JsonElement {
    val text = try {
        Charsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString()
    } catch (e: CharacterCodingException) {
        throw BundleException.Malformed(file, "$file is not valid JSON (not UTF-8); re-export the bundle")
    }
    return try {
        Json.parseToJsonElement(text)
    } catch (e: Exception) { // kotlinx.serialization reports syntax as SerializationException or IllegalArgumentException
        throw BundleException.Malformed(file, "$file is not valid JSON (${e.message?.lineSequence()?.firstOrNull()?.take(120)}); re-export the bundle")
    }
}

/** JSON value checks with Python's meaning: an integer is a number without fraction or exponent. */
internal object JsonTypes {
    private val INTEGER = Regex("-?(0|[1-9][0-9]*)")

    /** An integer that fits an Int: a larger one is no length, id or count a bundle can mean. */
    fun isInteger(e: JsonElement?): Boolean =
        e is JsonPrimitive && !e.isString && e !is JsonNull && INTEGER.matches(e.content) && e.content.toIntOrNull() != null
    fun isNumber(e: JsonElement?): Boolean = e is JsonPrimitive && !e.isString && e !is JsonNull &&
        e.content != "true" && e.content != "false"
    fun isString(e: JsonElement?): Boolean = e is JsonPrimitive && e.isString
    fun isBoolean(e: JsonElement?): Boolean = e is JsonPrimitive && !e.isString && (e.content == "true" || e.content == "false")
    fun isNull(e: JsonElement?): Boolean = e is JsonNull
}

/** What a field must be; `check` says whether a present value is of that type. */
internal class FieldType(val check: (JsonElement) -> Boolean) {
    companion object {
        val INTEGER = FieldType(JsonTypes::isInteger)
        val STRING = FieldType(JsonTypes::isString)
        val BOOLEAN = FieldType(JsonTypes::isBoolean)
        val NUMBER = FieldType(JsonTypes::isNumber)
        val OBJECT = FieldType { it is JsonObject }
        fun optional(type: FieldType) = FieldType { it is JsonNull || type.check(it) }
        fun listOf(type: FieldType) = FieldType { it is JsonArray && it.all(type.check) }
    }
}

/**
 * [data] as an object holding every field of [fields], each of its type: Malformed when it is not an object or
 * lacks one, MistypedField naming the wrong ones. Fields it does not name are ignored (later formats add some).
 */
internal fun requireFields(data: JsonElement, fields: Map<String, FieldType>, file: String, where: String): JsonObject {
    if (data !is JsonObject) throw BundleException.Malformed(file, "$where must be a JSON object; re-export the bundle")
    val missing = fields.keys.filter { it !in data }
    if (missing.isNotEmpty()) {
        throw BundleException.Malformed(file, "$where lacks ${missing.joinToString(", ")}; re-export the bundle")
    }
    val wrong = fields.filter { (name, type) -> !type.check(data.getValue(name)) }.keys
    if (wrong.isNotEmpty()) {
        throw BundleException.MistypedField(file, "$where: ${wrong.joinToString(", ")} has the wrong type; re-export the bundle")
    }
    return data
}

/** Only for values [FieldType.INTEGER] accepted. */
internal val JsonElement.asInt: Int get() = (this as JsonPrimitive).content.toInt()
internal val JsonElement.asIntOrNull: Int? get() = if (this is JsonNull) null else asInt
internal val JsonElement.asString: String get() = (this as JsonPrimitive).content
internal val JsonElement.asBoolean: Boolean get() = (this as JsonPrimitive).content == "true"
internal val JsonElement.asDouble: Double get() = (this as JsonPrimitive).content.toDouble()
internal val JsonElement.asIntList: List<Int> get() = (this as JsonArray).map { it.asInt }
