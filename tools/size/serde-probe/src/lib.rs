//! One options struct read from a JS object, by hand or with serde-wasm-bindgen: the
//! difference in the optimised `.wasm` is what the dependency costs mqtt-rtc.
use wasm_bindgen::prelude::*;

#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "camelCase", deny_unknown_fields)
)]
#[derive(Default)]
pub struct PublishOptions {
    pub qos: Option<u8>,
    pub retain: Option<bool>,
    pub content_type: Option<String>,
    pub message_expiry_interval: Option<u32>,
    pub response_topic: Option<String>,
    pub user_properties: Option<Vec<(String, String)>>,
}

#[cfg(feature = "serde")]
fn read(v: JsValue) -> Result<PublishOptions, JsValue> {
    serde_wasm_bindgen::from_value(v).map_err(|e| JsValue::from_str(&e.to_string()))
}

#[cfg(not(feature = "serde"))]
fn read(v: JsValue) -> Result<PublishOptions, JsValue> {
    use js_sys::Reflect;
    let get = |k: &str| Reflect::get(&v, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED);
    let mut o = PublishOptions::default();
    let q = get("qos");
    if !q.is_undefined() {
        o.qos = Some(q.as_f64().ok_or("qos must be a number")? as u8);
    }
    let r = get("retain");
    if !r.is_undefined() {
        o.retain = Some(r.as_bool().ok_or("retain must be a boolean")?);
    }
    let c = get("contentType");
    if !c.is_undefined() {
        o.content_type = Some(c.as_string().ok_or("contentType must be a string")?);
    }
    let m = get("messageExpiryInterval");
    if !m.is_undefined() {
        o.message_expiry_interval =
            Some(m.as_f64().ok_or("messageExpiryInterval must be a number")? as u32);
    }
    let t = get("responseTopic");
    if !t.is_undefined() {
        o.response_topic = Some(t.as_string().ok_or("responseTopic must be a string")?);
    }
    let u = get("userProperties");
    if !u.is_undefined() {
        let arr: js_sys::Array = u
            .dyn_into()
            .map_err(|_| "userProperties must be an array")?;
        let mut out = Vec::new();
        for p in arr.iter() {
            let p: js_sys::Array = p.dyn_into().map_err(|_| "a pair")?;
            out.push((
                p.get(0).as_string().ok_or("key")?,
                p.get(1).as_string().ok_or("value")?,
            ));
        }
        o.user_properties = Some(out);
    }
    Ok(o)
}

#[wasm_bindgen]
pub fn take(v: JsValue) -> Result<u32, JsValue> {
    let o = read(v)?;
    Ok(o.qos.unwrap_or(0) as u32
        + o.retain.unwrap_or(false) as u32
        + o.content_type.map_or(0, |s| s.len() as u32)
        + o.message_expiry_interval.unwrap_or(0)
        + o.response_topic.map_or(0, |s| s.len() as u32)
        + o.user_properties.map_or(0, |v| v.len() as u32))
}
