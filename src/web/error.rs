//! `MqttError`: the error type JavaScript sees, with a stable `code` and the MQTT reason
//! code where the broker gave one. Instances are `instanceof Error` too, including ones
//! users construct: [`link_error_prototype`] puts `Error.prototype` under
//! `MqttError.prototype` when the module initialises.

use wasm_bindgen::prelude::*;

use super::js;
use crate::error_code::ErrorCode;
use crate::mqtt::session::SessionError;

/// An error from mqtt-rtc: `code` is stable ("NOT_AUTHORIZED", "CONNECT_TIMEOUT", ...),
/// `reasonCode` is the MQTT reason or return code where there is one.
#[wasm_bindgen(skip_typescript)]
#[derive(Clone)]
pub struct MqttError {
    code: String,
    reason_code: Option<u8>,
    message: String,
    stack: String,
}

#[wasm_bindgen]
impl MqttError {
    #[wasm_bindgen(constructor)]
    pub fn new(code: String, message: String, reason_code: Option<u8>) -> MqttError {
        MqttError {
            code,
            reason_code,
            message,
            stack: js::stack(),
        }
    }

    #[wasm_bindgen(getter)]
    pub fn code(&self) -> String {
        self.code.clone()
    }

    #[wasm_bindgen(getter, js_name = reasonCode)]
    pub fn reason_code(&self) -> Option<u8> {
        self.reason_code
    }

    #[wasm_bindgen(getter)]
    pub fn message(&self) -> String {
        self.message.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        "MqttError".into()
    }

    #[wasm_bindgen(getter)]
    pub fn stack(&self) -> String {
        format!(
            "MqttError [{}]: {}\n{}",
            self.code, self.message, self.stack
        )
    }

    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        format!("MqttError [{}]: {}", self.code, self.message)
    }
}

impl MqttError {
    pub fn code_str(&self) -> &str {
        &self.code
    }

    pub fn text(&self) -> &str {
        &self.message
    }

    pub fn from_code(code: ErrorCode, message: impl Into<String>) -> MqttError {
        MqttError::new(code.as_str().into(), message.into(), None)
    }

    /// Converts to a JS value that is `instanceof MqttError` and `instanceof Error`.
    pub fn into_js(self) -> JsValue {
        let v = JsValue::from(self);
        js::extend_error(&v);
        v
    }
}

impl From<SessionError> for MqttError {
    fn from(e: SessionError) -> Self {
        MqttError::new(e.code.as_str().into(), e.message, e.reason_code)
    }
}

impl From<&SessionError> for MqttError {
    fn from(e: &SessionError) -> Self {
        MqttError::from(e.clone())
    }
}

/// Runs once when the module initialises (wasm-bindgen's start function: in `init()` with
/// the web target, on import with a bundler): chains `MqttError.prototype` to
/// `Error.prototype`, so `new MqttError(...)` is `instanceof Error` before the library
/// has created an error itself. `private`: not exported to JavaScript. `into_js` patches
/// the prototype too, for hosts that skip start functions (wasm-bindgen-test-runner).
#[wasm_bindgen(start, private)]
fn link_error_prototype() {
    MqttError::from_code(ErrorCode::Closed, "").into_js();
}

pub fn js_error(e: impl Into<MqttError>) -> JsValue {
    e.into().into_js()
}
