//! `WebClient`, the class `node/lib/browser.ts` wraps: each method converts its arguments and
//! enters the driver; events come back through the `sink` function, in batches.

use std::rc::Rc;

use js_sys::{Array, Function};
use wasm_bindgen::prelude::*;
use wstether::machine::Command;
use wstether::Message;

use crate::driver::Driver;
use crate::errors::IntoJs;
use crate::options;

/// One wstether client over the browser's `WebSocket`.
#[wasm_bindgen]
pub struct WebClient {
    driver: Rc<Driver>,
}

#[wasm_bindgen]
impl WebClient {
    /// Check the options (throws an error with a stable `code`) and build an idle client.
    /// `url` is `undefined` when `options.urlProvider` is set: each attempt then sends a
    /// `$locate` request through `sink` and waits for `located`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        url: Option<String>,
        options: JsValue,
        sink: Function,
    ) -> Result<WebClient, JsValue> {
        let options = options::parse(url, &options).js()?;
        Ok(WebClient {
            driver: Driver::new(options, sink),
        })
    }

    /// The URL with its password and token-like query values redacted.
    #[wasm_bindgen(getter)]
    pub fn url(&self) -> String {
        self.driver.peek(|i| i.url().to_string())
    }

    /// The state's name.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.driver.peek(|i| i.state().as_str().to_string())
    }

    fn command(&self, command: Command) -> Result<(), JsValue> {
        self.driver.run(|i, now| i.command(now, command)).js()
    }

    /// Start connecting.
    pub fn connect(&self) -> Result<(), JsValue> {
        self.command(Command::Connect)
    }

    /// Queue a text message; `true` when the link is open.
    #[wasm_bindgen(js_name = sendText)]
    pub fn send_text(&self, text: String) -> Result<bool, JsValue> {
        self.driver.run(|i, _| i.send(Message::text(text))).js()
    }

    /// Queue a binary message; `true` when the link is open.
    #[wasm_bindgen(js_name = sendBinary)]
    pub fn send_binary(&self, data: Vec<u8>) -> Result<bool, JsValue> {
        self.driver.run(|i, _| i.send(Message::binary(data))).js()
    }

    /// Close for good; the unsent messages come as a `$unsent` item.
    pub fn close(&self, code: u16, reason: String) -> Result<(), JsValue> {
        self.driver.run(|i, now| i.close(now, code, reason)).js()
    }

    /// `pause()`.
    pub fn pause(&self) -> Result<(), JsValue> {
        self.command(Command::Pause)
    }

    /// `resume()`.
    pub fn resume(&self) -> Result<(), JsValue> {
        self.command(Command::Resume)
    }

    /// `reconnectNow()`.
    #[wasm_bindgen(js_name = reconnectNow)]
    pub fn reconnect_now(&self) -> Result<(), JsValue> {
        self.command(Command::ReconnectNow)
    }

    /// `reconnectTo(url)`: move to `url` at once (checked as the constructor checks it).
    #[wasm_bindgen(js_name = reconnectTo)]
    pub fn reconnect_to(&self, url: String) -> Result<(), JsValue> {
        let url = crate::url::parse(&url).js()?;
        self.driver.run(|i, now| i.reconnect_to(now, url)).js()
    }

    /// `networkChanged()`: also what `online`, `offline` and a page back from sleep call.
    #[wasm_bindgen(js_name = networkChanged)]
    pub fn network_changed(&self) -> Result<(), JsValue> {
        self.command(Command::NetworkChanged)
    }

    /// Replace the greeting list.
    #[wasm_bindgen(js_name = setGreeting)]
    pub fn set_greeting(&self, messages: Array) -> Result<(), JsValue> {
        let messages = options::messages(&messages, "messages").js()?;
        self.driver.run(|i, _| i.set_greeting(messages));
        Ok(())
    }

    /// The URL provider's answer to request `ticket`: a URL, or why it failed.
    pub fn located(&self, ticket: u32, url: Option<String>, error: Option<String>) {
        let result = url.ok_or_else(|| error.unwrap_or_else(|| "gave no URL".into()));
        self.driver.run(|i, now| i.located(now, ticket, result));
    }

    /// The greeting provider's answer to request `ticket`: messages, or why it failed.
    pub fn greeted(&self, ticket: u32, messages: JsValue, error: Option<String>) {
        let result = match error {
            Some(why) => Err(why),
            None => options::messages(&messages, "greeting()").map_err(|e| e.to_string()),
        };
        self.driver.run(|i, now| i.greeted(now, ticket, result));
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> JsValue {
        self.driver.peek(|i| i.stats())
    }

    /// The last 64 state changes.
    pub fn history(&self) -> JsValue {
        self.driver.peek(|i| i.history())
    }
}
