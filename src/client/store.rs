//! The session store of a client (`ConnectOptions.store`): the built-in IndexedDB one or
//! a `SessionStore` object of the application, both used through the same three calls
//! (`get`, `put`, `delete`), under one Web Lock per broker and client id so that two tabs
//! never write one session. The session records what must be kept as store operations;
//! this module writes them one batch at a time (operations that come while a batch is
//! being written form the next one) and holds back every packet and event the session
//! produced after an operation until that operation is durable, so nothing leaves the page
//! before its record does: no PUBLISH before its message is kept, no PUBREL before its
//! stage, no PUBREC and no delivery of a QoS 2 message before its id. A store that fails
//! ends the client with a `STORE_*` error; it never goes on without keeping what it must.

use std::collections::VecDeque;

use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::error_code::ErrorCode;
use crate::map::VecMap;
use crate::mqtt::session::{Event, SessionError, StoreOp};
use crate::web as js;

#[wasm_bindgen(inline_js = r#"
const OS = "records";
const done = (t) => new Promise((ok, ko) => {
  t.oncomplete = () => ok();
  t.onerror = t.onabort = () => ko(t.error || new DOMException("transaction aborted", "AbortError"));
});
export function mqttRtcIdb() {
  let db;
  const open = () => db || (db = new Promise((ok, ko) => {
    const r = indexedDB.open("mqtt-rtc", 1);
    r.onupgradeneeded = () => r.result.createObjectStore(OS);
    r.onsuccess = () => ok(r.result);
    r.onerror = () => ko(r.error);
  }));
  const tx = async (mode, f) => {
    const t = (await open()).transaction(OS, mode, { durability: "strict" });
    const out = f(t.objectStore(OS));
    await done(t);
    return out;
  };
  return {
    get: (key) => tx("readonly", (s) => {
      const range = IDBKeyRange.bound([key, ""], [key, "\uffff"]);
      const k = s.getAllKeys(range), v = s.getAll(range);
      return () => k.result.map((key, i) => [key[1], v.result[i]]);
    }).then((f) => f()),
    put: (key, records) => tx("readwrite", (s) => { for (const [n, v] of records) s.put(v, [key, n]); }),
    delete: (key, names) => tx("readwrite", (s) => { for (const n of names) s.delete([key, n]); }),
  };
}
export function mqttRtcLock(name) {
  const locks = globalThis.navigator && navigator.locks;
  if (!locks) return Promise.reject(new DOMException("Web Locks are not available here (they need a secure context)", "NotSupportedError"));
  return new Promise((ok, ko) => {
    locks.request(name, { ifAvailable: true }, (lock) => lock ? new Promise((release) => ok(release)) : ok(null)).catch(ko);
  });
}
"#)]
extern "C" {
    /// The built-in IndexedDB store: database `mqtt-rtc`, one object store keyed by
    /// `[storeKey, recordName]`, transactions with strict durability.
    #[wasm_bindgen(js_name = mqttRtcIdb)]
    pub fn idb_store() -> JsValue;
    /// Takes the Web Lock `name` if it is free: a function that releases it, or `null`.
    #[wasm_bindgen(js_name = mqttRtcLock)]
    fn lock(name: &str) -> Promise;
}

/// Something the session produced after a store operation that is not durable yet.
enum Held {
    Bytes(Vec<u8>),
    Event(Box<Event>),
}

/// A client's store and what waits for it.
pub(super) struct Store {
    backend: JsValue,
    key: String,
    /// Operations recorded and not yet being written, coalesced by record name.
    pending: VecMap<String, Option<Vec<u8>>>,
    writing: bool,
    /// Operations recorded so far, and how many of them are durable.
    recorded: u64,
    durable: u64,
    /// Outputs in the order the session produced them, each with `recorded` at the time.
    held: VecDeque<(u64, Held)>,
    /// Releases the Web Lock.
    release: Option<Function>,
}

/// The error of a failed store call; `loading`: before the session started.
pub(super) fn store_error(e: &JsValue, loading: bool) -> SessionError {
    let name = js::get(e, "name").as_string().unwrap_or_default();
    let message = js::get(e, "message")
        .as_string()
        .unwrap_or_else(|| js::text(e));
    let code = match name.as_str() {
        "QuotaExceededError" => ErrorCode::StoreQuota,
        _ if loading => ErrorCode::StoreUnavailable,
        _ => ErrorCode::StoreFailed,
    };
    SessionError::new(code, format!("session store: {message}"))
}

/// Calls `backend[method](args...)` and waits for its promise.
async fn call(backend: &JsValue, method: &str, args: &Array) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(backend, &method.into())?.dyn_into()?;
    let p = Reflect::apply(&f, backend, args)?;
    JsFuture::from(Promise::resolve(&p)).await
}

impl Store {
    /// Takes the lock of `key` and reads what an earlier page left: the store, ready, and
    /// its records.
    pub(super) async fn open(
        backend: JsValue,
        key: String,
    ) -> Result<(Store, Vec<(String, Vec<u8>)>), SessionError> {
        let release = JsFuture::from(lock(&format!("mqtt-rtc {key}")))
            .await
            .map_err(|e| store_error(&e, true))?;
        let Ok(release) = release.dyn_into::<Function>() else {
            return Err(SessionError::new(
                ErrorCode::StoreLocked,
                "another client (another tab?) is using the session store of this broker and client id",
            ));
        };
        let store = Store {
            backend,
            key,
            pending: VecMap::new(),
            writing: false,
            recorded: 0,
            durable: 0,
            held: VecDeque::new(),
            release: Some(release),
        };
        let got = call(
            &store.backend,
            "get",
            &Array::of1(&store.key.as_str().into()),
        )
        .await
        .map_err(|e| store_error(&e, true))?;
        let records = Array::from(&got)
            .iter()
            .map(|r| {
                let r = Array::from(&r);
                let name = r.get(0).as_string().unwrap_or_default();
                (name, Uint8Array::new(&r.get(1)).to_vec())
            })
            .collect();
        Ok((store, records))
    }

    /// Takes what the session recorded.
    pub(super) fn record(&mut self, ops: Vec<StoreOp>) {
        for op in ops {
            self.recorded += 1;
            match op {
                StoreOp::Put(name, value) => self.pending.insert(name, Some(value)),
                StoreOp::Delete(name) => self.pending.insert(name, None),
            };
        }
    }

    /// Whether an output produced now must wait.
    fn holding(&self) -> bool {
        self.durable < self.recorded || !self.held.is_empty()
    }

    /// Holds `bytes` if they must wait; gives them back to send now otherwise.
    pub(super) fn hold_bytes(&mut self, bytes: Vec<u8>) -> Option<Vec<u8>> {
        if !self.holding() {
            return Some(bytes);
        }
        self.held.push_back((self.recorded, Held::Bytes(bytes)));
        None
    }

    /// Like [`Store::hold_bytes`], for a session event.
    pub(super) fn hold_event(&mut self, event: Event) -> Option<Event> {
        if !self.holding() {
            return Some(event);
        }
        self.held
            .push_back((self.recorded, Held::Event(Box::new(event))));
        None
    }

    /// The next held output whose operations are durable: `Ok` bytes, `Err` an event.
    pub(super) fn next_ready(&mut self) -> Option<Result<Vec<u8>, Event>> {
        if self.held.front()?.0 > self.durable {
            return None;
        }
        Some(match self.held.pop_front()?.1 {
            Held::Bytes(b) => Ok(b),
            Held::Event(e) => Err(*e),
        })
    }

    /// After a failed write: what was held and may still be told (no bytes, no
    /// deliveries: the broker sends unacknowledged messages again).
    pub(super) fn abandon(&mut self) -> Vec<Event> {
        self.pending = VecMap::new();
        std::mem::take(&mut self.held)
            .into_iter()
            .filter_map(|(_, h)| match h {
                Held::Event(e) => match *e {
                    Event::Message(_) | Event::OpenTransport | Event::CloseTransport => None,
                    e => Some(e),
                },
                Held::Bytes(_) => None,
            })
            .collect()
    }

    /// The next batch to write, if none is being written: its puts, its deletes, and the
    /// count of operations it makes durable.
    pub(super) fn start_write(&mut self) -> Option<(JsValue, Array, Array, u64)> {
        if self.writing || self.pending.is_empty() {
            return None;
        }
        self.writing = true;
        let (puts, deletes) = (Array::new(), Array::new());
        for (name, value) in std::mem::take(&mut self.pending).into_iter() {
            match value {
                Some(v) => puts.push(&Array::of2(&name.into(), &js::uint8(&v))),
                None => deletes.push(&name.into()),
            };
        }
        Some((self.backend.clone(), puts, deletes, self.recorded))
    }

    /// The batch that made `upto` operations durable was written.
    pub(super) fn written(&mut self, upto: u64) {
        self.writing = false;
        self.durable = self.durable.max(upto);
    }

    pub(super) fn key(&self) -> String {
        self.key.clone()
    }

    /// The client closed: writes what is left (after any write under way, which IndexedDB
    /// orders first), then lets another client take the store.
    pub(super) async fn close(mut self) {
        self.writing = false;
        if let Some((backend, puts, deletes, _)) = self.start_write() {
            if let Err(e) = write(backend, self.key(), puts, deletes).await {
                js::report(&e.into());
            }
        }
        self.unlock();
    }

    /// Lets another client take the store.
    pub(super) fn unlock(&mut self) {
        if let Some(f) = self.release.take() {
            let _ = f.call0(&JsValue::NULL);
        }
    }
}

/// Writes one batch: puts first (a new stage before the delete of what it replaces), then
/// deletes.
pub(super) async fn write(
    backend: JsValue,
    key: String,
    puts: Array,
    deletes: Array,
) -> Result<(), SessionError> {
    let key: JsValue = key.into();
    if puts.length() > 0 {
        call(&backend, "put", &Array::of2(&key, &puts))
            .await
            .map_err(|e| store_error(&e, false))?;
    }
    if deletes.length() > 0 {
        call(&backend, "delete", &Array::of2(&key, &deletes))
            .await
            .map_err(|e| store_error(&e, false))?;
    }
    Ok(())
}
