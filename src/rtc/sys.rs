//! Browser bindings that web-sys lacks or declares without `catch`: the parameterless
//! `setLocalDescription()` perfect negotiation relies on, `restartIce()`, and the calls
//! that throw on bad input (which must become `MqttError`s, not exceptions unwinding
//! through wasm with a borrow held). Also the global timer and console used by the layer.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MediaStream, MediaStreamTrack, RtcDataChannel, RtcPeerConnection, RtcRtpSender};

#[wasm_bindgen]
extern "C" {
    /// `RTCPeerConnection`, for the methods declared here.
    #[wasm_bindgen(js_name = RTCPeerConnection)]
    type Pc;

    #[wasm_bindgen(method, js_name = setLocalDescription)]
    fn set_local_description(this: &Pc) -> Promise;

    #[wasm_bindgen(method, js_name = restartIce)]
    fn restart_ice(this: &Pc);

    #[wasm_bindgen(method, catch, js_name = createDataChannel)]
    fn create_data_channel(
        this: &Pc,
        label: &str,
        init: &JsValue,
    ) -> Result<RtcDataChannel, JsValue>;

    #[wasm_bindgen(method, catch, js_name = addTrack)]
    fn add_track(
        this: &Pc,
        track: &MediaStreamTrack,
        stream: &MediaStream,
    ) -> Result<RtcRtpSender, JsValue>;

    #[wasm_bindgen(method, catch, js_name = removeTrack)]
    fn remove_track(this: &Pc, sender: &RtcRtpSender) -> Result<(), JsValue>;

    #[wasm_bindgen(method, catch, js_name = addIceCandidate)]
    fn add_ice_candidate(this: &Pc, candidate: &JsValue) -> Result<Promise, JsValue>;

    /// `RTCRtpSender`, for `replaceTrack(null)`.
    #[wasm_bindgen(js_name = RTCRtpSender)]
    type Sender;

    #[wasm_bindgen(method, catch, js_name = replaceTrack)]
    fn replace_track(this: &Sender, next: &JsValue) -> Result<Promise, JsValue>;

    #[wasm_bindgen(js_namespace = console, js_name = debug)]
    pub fn console_debug(s: &str);

    #[wasm_bindgen(js_namespace = console, js_name = error)]
    pub fn console_error(s: &str);
}

fn pc(p: &RtcPeerConnection) -> &Pc {
    p.unchecked_ref()
}

/// `setLocalDescription()` without a description: the browser makes the offer or answer
/// the signaling state calls for.
pub fn set_local_description_implicit(p: &RtcPeerConnection) -> Promise {
    pc(p).set_local_description()
}

pub fn restart_ice(p: &RtcPeerConnection) {
    pc(p).restart_ice()
}

pub fn create_data_channel_checked(
    p: &RtcPeerConnection,
    label: &str,
    init: &JsValue,
) -> Result<RtcDataChannel, JsValue> {
    pc(p).create_data_channel(label, init)
}

pub fn add_track_checked(
    p: &RtcPeerConnection,
    track: &MediaStreamTrack,
    stream: &MediaStream,
) -> Result<RtcRtpSender, JsValue> {
    pc(p).add_track(track, stream)
}

pub fn remove_track_checked(p: &RtcPeerConnection, sender: &RtcRtpSender) -> Result<(), JsValue> {
    pc(p).remove_track(sender)
}

pub fn add_ice_candidate_checked(
    p: &RtcPeerConnection,
    candidate: &JsValue,
) -> Result<Promise, JsValue> {
    pc(p).add_ice_candidate(candidate)
}

/// `replaceTrack(next)` where `next` may be null (stop sending without renegotiating).
pub fn replace_track_checked(sender: &RtcRtpSender, next: &JsValue) -> Result<Promise, JsValue> {
    sender.unchecked_ref::<Sender>().replace_track(next)
}
