/** Index files kept in IndexedDB, keyed by the bundle's model digest and the corpus's sha256. */

const DATABASE = "colbert-web";
const STORE = "indexes";

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DATABASE, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** @param {"readonly"|"readwrite"} mode @param {(store: IDBObjectStore) => IDBRequest} action */
async function run(mode, action) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const request = action(db.transaction(STORE, mode).objectStore(STORE));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}

/** @param {string} key @returns {Promise<Uint8Array|undefined>} */
export const loadIndex = (key) => run("readonly", (store) => store.get(key));

/** @param {string} key @param {Uint8Array} bytes */
export const saveIndex = (key, bytes) => run("readwrite", (store) => store.put(bytes, key));
