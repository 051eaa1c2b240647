/** sha256 through WebCrypto, which browsers and Node 20 both have. */

/** @param {Uint8Array} bytes @returns {Promise<Uint8Array>} */
export async function sha256(bytes) {
  return new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", bytes));
}

/** @param {Uint8Array} bytes @returns {Promise<string>} lowercase hex */
export async function sha256Hex(bytes) {
  return Array.from(await sha256(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}
