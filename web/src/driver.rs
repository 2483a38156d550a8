//! The browser driver: it decides nothing. It feeds the machine what the page's `WebSocket`
//! and timer report, with the time they happened, and performs the machine's actions: open a
//! socket, send, close, arm the one timer at the next deadline. The native engine's job, over
//! the browser's socket instead of tokio's.
//!
//! What the browser does differently, and how it is met:
//! - no protocol pings: a heartbeat is the app-level ping and pong (the options require it);
//! - no handshake headers and no HTTP status: auth goes in the URL (a URL provider asked
//!   before every attempt) or the greeting; a refused attempt is a connect failure;
//! - no read backpressure: messages are handed over as they come;
//! - no "drained" event: `bufferedAmount` is looked at while bytes wait, and the outbox keeps
//!   what is beyond the write-ahead, as natively.
//!
//! Nothing user-written runs while the state is borrowed: events, URL-provider and greeting
//! requests go out in one batch after each entry (`Driver::run`), and the JavaScript layer
//! answers later through `located` and `greeted`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use js_sys::{Array, Function, Reflect};
use url::Url;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};
use wstether::budget;
use wstether::machine::{Action, Command, End, Fault, Inbound, Machine, Opened, Ping, Shut};
use wstether::outbox::{Outbox, Sealed};
use wstether::stats::Counters;
use wstether::time::Time;
use wstether::{redact, Cause, Error, Event, Message, State};

use crate::convert;
use crate::defaults::{DRAIN_POLL, WRITE_AHEAD};
use crate::js;
use crate::options::{Greeting, Options};

/// One client: its state behind a `RefCell` (the page has one thread), and the JavaScript
/// function that takes each batch of events and requests.
pub struct Driver {
    inner: RefCell<Inner>,
    sink: Function,
}

type Handler = Closure<dyn FnMut(JsValue)>;

/// The socket of one attempt, then of the open link.
struct Link {
    ws: WebSocket,
    /// The attempt this socket belongs to: callbacks of an older one are ignored.
    ticket: u32,
    open: bool,
    serving: bool,
    /// We sent our close frame (`close()`, `pause()`).
    closing: bool,
    /// The browser reported the socket closed.
    gone: bool,
    /// Bytes handed to `send` (data, greeting and app pings).
    sent: u64,
    /// Messages whose bytes are in the browser's buffer, with the byte count at their end: a
    /// message counts as written once `bufferedAmount` says the browser sent its last byte.
    in_flight: VecDeque<(u64, Message)>,
    /// `bufferedAmount` stopped falling at this time, at this value; past `stall_at` the
    /// write has failed.
    blocked: Option<(Time, u64)>,
    stall_at: Time,
    _handlers: [Handler; 3],
}

/// What the state holds.
pub struct Inner {
    machine: Machine,
    outbox: Outbox,
    counters: Counters,
    options: Options,
    link: Option<Link>,
    /// The URL provider must answer by this time.
    locate_due: Option<Time>,
    /// The `WebSocket` of an attempt must open by this time.
    attempt_due: Option<Time>,
    /// A greeting provider is asked, and must answer by this time.
    greeting_due: Option<Time>,
    /// Numbers attempts and greetings, so a late answer to an abandoned one is ignored.
    ticket: u32,
    /// `bufferedAmount` is looked at again at this time.
    poll_at: Option<Time>,
    armed: Option<(JsValue, Time)>,
    timer: Option<Closure<dyn FnMut()>>,
    me: Weak<Driver>,
    batch: Array,
    /// Links dropped while one of their own callbacks may be running: freed at the next entry.
    dropped: Vec<Link>,
    state: State,
    ended: bool,
    /// The URL attempts go to, redacted (`url`): the machine's target, told the driver as it
    /// changes (a URL provider's answer, `reconnectTo`).
    log_url: String,
}

impl Driver {
    /// A client in `Idle`.
    pub fn new(options: Options, sink: Function) -> Rc<Driver> {
        Rc::new_cyclic(|me: &Weak<Driver>| {
            let machine = Machine::new(options.settings.clone(), budget::shared(), js::seed());
            let log_url = options.settings.log_url.clone();
            let weak = me.clone();
            let timer = Closure::<dyn FnMut()>::new(move || {
                if let Some(driver) = weak.upgrade() {
                    driver.run(|inner, now| {
                        inner.armed = None;
                        inner.timer_fired(now);
                    });
                }
            });
            Driver {
                inner: RefCell::new(Inner {
                    machine,
                    outbox: Outbox::new(options.outbox),
                    counters: Counters::default(),
                    options,
                    link: None,
                    locate_due: None,
                    attempt_due: None,
                    greeting_due: None,
                    ticket: 0,
                    poll_at: None,
                    armed: None,
                    timer: Some(timer),
                    me: me.clone(),
                    batch: Array::new(),
                    dropped: Vec::new(),
                    state: State::Idle,
                    ended: false,
                    log_url,
                }),
                sink,
            }
        })
    }

    /// One entry: `f` at `now`, then everything that follows from it, then the batch out.
    pub fn run<R>(&self, f: impl FnOnce(&mut Inner, Time) -> R) -> R {
        let (result, batch) = {
            let mut inner = self.inner.borrow_mut();
            inner.dropped.clear();
            let now = js::now();
            let result = f(&mut inner, now);
            inner.drive(now);
            inner.arm(now);
            let batch = std::mem::replace(&mut inner.batch, Array::new());
            (result, batch)
        };
        if batch.length() > 0 {
            let _ = self.sink.call1(&JsValue::NULL, &batch);
        }
        result
    }

    /// Read-only access (stats, history, state) without driving.
    pub fn peek<R>(&self, f: impl FnOnce(&Inner) -> R) -> R {
        f(&self.inner.borrow())
    }
}

impl Inner {
    // ----- app entries -------------------------------------------------------------------

    /// A command from the app; a client that has ended refuses it, as natively.
    pub fn command(&mut self, now: Time, command: Command) -> Result<(), Error> {
        match self.state {
            State::Closed | State::Closing => return Err(Error::Closed),
            State::Failed => return Err(Error::Failed),
            _ => {}
        }
        if command == Command::NetworkChanged
            && self.state == State::Open
            && self.options.app_pong.is_none()
        {
            // Without an app-level ping an open link cannot be probed here (a silent, healthy
            // link would be taken for dead); a waiting client still tries at once.
            return Ok(());
        }
        self.machine.command(now, command);
        Ok(())
    }

    /// `close(code, reason)`: the unsent messages go out as a `$unsent` item once it is done.
    pub fn close(&mut self, now: Time, code: u16, reason: String) -> Result<(), Error> {
        if !(code == 1000 || (3000..=4999).contains(&code)) {
            return Err(Error::InvalidCloseCode(code));
        }
        if reason.len() > 123 {
            return Err(Error::CloseReasonTooLong(reason.len()));
        }
        if self.ended {
            self.push_unsent(Vec::new());
        } else {
            self.machine.command(now, Command::Close { code, reason });
        }
        Ok(())
    }

    /// Accept a message; `true` when the link is open.
    pub fn send(&mut self, message: Message) -> Result<bool, Error> {
        let max = self.options.max_message_size;
        if message.len() > max {
            return Err(Error::MessageTooLarge {
                size: message.len(),
                max,
            });
        }
        self.outbox.push(message)?;
        Ok(self.state == State::Open)
    }

    /// `setGreeting(messages)`.
    pub fn set_greeting(&mut self, messages: Vec<Message>) {
        if let Greeting::List(list) = &mut self.options.greeting {
            *list = messages;
        }
    }

    /// The URL provider answered the request numbered `ticket`: the machine goes on to that
    /// URL, or fails the attempt.
    pub fn located(&mut self, now: Time, ticket: u32, url: Result<String, String>) {
        if ticket != self.ticket || self.locate_due.take().is_none() {
            return;
        }
        let result = url
            .and_then(|u| crate::url::parse(&u).map_err(|e| e.to_string()))
            .map_err(Cause::UrlProvider);
        if let Ok(url) = &result {
            self.log_url = redact::url(url);
        }
        self.machine.located(now, result);
    }

    /// `reconnectTo(url)`: the machine moves to `url` at once.
    pub fn reconnect_to(&mut self, now: Time, url: Url) -> Result<(), Error> {
        self.log_url = redact::url(&url);
        self.command(now, Command::ReconnectTo(url))
    }

    /// The greeting provider answered the request numbered `ticket`.
    pub fn greeted(&mut self, now: Time, ticket: u32, greeting: Result<Vec<Message>, String>) {
        if ticket != self.ticket || self.greeting_due.take().is_none() {
            return;
        }
        let failed = match greeting {
            Ok(messages) => {
                self.send_greeting(messages);
                None
            }
            Err(why) => Some(format!("greeting provider failed: {why}")),
        };
        self.machine.greeted(now, failed);
    }

    /// The state as last published.
    pub fn state(&self) -> State {
        self.state
    }

    /// The URL attempts go to, redacted.
    pub fn url(&self) -> &str {
        &self.log_url
    }

    /// `stats()` as a JavaScript object.
    pub fn stats(&self) -> JsValue {
        let now = js::now();
        convert::stats(
            self.counters
                .snapshot(self.outbox.len(), self.outbox.bytes(), now),
        )
    }

    /// `history()` as a JavaScript array.
    pub fn history(&self) -> JsValue {
        convert::history(self.counters.history())
    }

    // ----- socket callbacks --------------------------------------------------------------

    fn on_open(&mut self, now: Time, ticket: u32) {
        let Some(link) = self.link.as_mut().filter(|l| l.ticket == ticket && !l.open) else {
            return;
        };
        link.open = true;
        self.attempt_due = None;
        let non_empty = |s: String| (!s.is_empty()).then_some(s);
        let opened = Opened {
            protocol: non_empty(link.ws.protocol()),
            compression: non_empty(link.ws.extensions()),
            address: None,
        };
        self.machine.attempt_done(now, Ok(opened));
    }

    fn on_message(&mut self, now: Time, ticket: u32, data: JsValue) {
        let Some(link) = self.link.as_mut().filter(|l| l.ticket == ticket && l.open) else {
            return;
        };
        if link.closing || link.gone {
            // After our close frame, data is discarded.
            return;
        }
        // Any message is life, the pong or not.
        self.machine.activity(now);
        let message = match data.as_string() {
            Some(text) => Message::text(text),
            None => Message::binary(js_sys::Uint8Array::new(&data).to_vec()),
        };
        if message.len() > self.options.max_message_size {
            self.machine.lost(now, Fault::TooLarge);
            return;
        }
        if let (Some(pong), Message::Text(text)) = (&self.options.app_pong, &message) {
            if pong.matches(text) {
                self.machine.frame(now, Inbound::AppPong);
                return;
            }
        }
        self.counters.add_in(1, message.len() as u64);
        self.batch.push(&convert::message(&message));
    }

    fn on_close(&mut self, now: Time, ticket: u32, event: CloseEvent) {
        let Some(link) = self.link.as_mut().filter(|l| l.ticket == ticket && !l.gone) else {
            return;
        };
        link.gone = true;
        if !link.open {
            // The browser does not say why (refused, TLS, an HTTP status): all look alike.
            let why = format!(
                "the browser could not open the WebSocket (close code {})",
                event.code()
            );
            self.attempt_failed(now, Cause::ConnectFailed(why));
        } else if link.closing {
            self.machine.shut_done(now);
        } else if event.code() == 1006 {
            let fault = Fault::Network("connection closed without a close frame".into());
            self.machine.lost(now, fault);
        } else {
            // The browser already answered the server's close frame.
            let (code, reason) = (event.code(), event.reason());
            self.machine.frame(now, Inbound::Close { code, reason });
        }
    }

    // ----- driving -----------------------------------------------------------------------

    /// Perform what the machine asked, write, drop a link it let go, until nothing moves.
    fn drive(&mut self, now: Time) {
        for _ in 0..64 {
            let mut moved = false;
            while let Some(action) = self.machine.poll_action() {
                moved = true;
                self.perform(now, action);
            }
            moved |= self.write(now);
            if self.link.as_ref().is_some_and(|l| l.open) && !self.machine.holds_link() {
                self.drop_link();
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }

    fn timer_fired(&mut self, now: Time) {
        if self.locate_due.is_some_and(|t| now >= t) {
            self.locate_due = None;
            let why = "no answer within connectTimeoutMs".to_string();
            self.machine.located(now, Err(Cause::UrlProvider(why)));
        }
        if self.attempt_due.is_some_and(|t| now >= t) {
            self.attempt_failed(now, Cause::ConnectTimeout);
        }
        if self.greeting_due.is_some_and(|t| now >= t) {
            self.greeting_due = None;
            let why = "greeting provider gave no answer within connect_timeout".to_string();
            self.machine.greeted(now, Some(why));
        }
        if self.poll_at.is_some_and(|t| now >= t) {
            self.poll_at = None;
        }
        if self.machine.poll_timeout().is_some_and(|t| now >= t) {
            self.machine.handle_timeout(now);
        }
    }

    /// One `setTimeout` at the earliest deadline: the machine's, the attempt's, the greeting
    /// provider's, or the next look at `bufferedAmount`.
    fn arm(&mut self, now: Time) {
        let next = [
            self.machine.poll_timeout(),
            self.locate_due,
            self.attempt_due,
            self.greeting_due,
            self.poll_at,
        ]
        .into_iter()
        .flatten()
        .filter(|t| *t != Time::NEVER)
        .min();
        if self.armed.as_ref().map(|(_, at)| *at) == next {
            return;
        }
        if let Some((id, _)) = self.armed.take() {
            js::clear_timeout(&id);
        }
        if let (Some(at), Some(timer), false) = (next, self.timer.as_ref(), self.ended) {
            let id = js::set_timeout(timer.as_ref().unchecked_ref(), js::delay_ms(now, at));
            self.armed = Some((id, at));
        }
    }

    fn perform(&mut self, now: Time, action: Action) {
        match action {
            Action::Transition { from, to, cause } => {
                self.state = to;
                self.counters.record(from, to, &cause, now, js::wall());
                self.emit(Event::StateChanged { state: to });
            }
            Action::Emit(event) => self.emit(event),
            Action::CountAttempt => {
                self.counters
                    .attempts
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Action::CountOpen => {
                self.counters
                    .opens
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Action::RecordRtt(rtt) => self.counters.set_rtt(rtt),
            Action::RecordClose { code, reason } => self.counters.set_close(code, &reason),
            Action::Locate {
                attempt,
                after_unauthorized,
            } => {
                self.ticket = self.ticket.wrapping_add(1);
                self.locate_due = Some(now + self.options.settings.connect_timeout);
                let request = convert::object("$locate");
                let _ = Reflect::set(&request, &"ticket".into(), &self.ticket.into());
                let _ = Reflect::set(&request, &"attempt".into(), &attempt.into());
                let _ = Reflect::set(
                    &request,
                    &"afterUnauthorized".into(),
                    &after_unauthorized.into(),
                );
                self.batch.push(&request);
            }
            Action::Connect { url, .. } => {
                self.ticket = self.ticket.wrapping_add(1);
                self.attempt_due = Some(now + self.options.settings.connect_timeout);
                self.open_socket(now, url.as_str());
            }
            Action::Abandon => {
                self.ticket = self.ticket.wrapping_add(1);
                self.locate_due = None;
                self.attempt_due = None;
                if self.link.as_ref().is_some_and(|l| !l.open) {
                    self.drop_link();
                }
            }
            Action::Greet { within } => match &self.options.greeting {
                Greeting::List(list) => {
                    let list = list.clone();
                    self.send_greeting(list);
                    self.machine.greeted(now, None);
                }
                Greeting::Provider => {
                    self.ticket = self.ticket.wrapping_add(1);
                    self.greeting_due = Some(now + within);
                    let request = convert::object("$greet");
                    let _ = Reflect::set(&request, &"ticket".into(), &self.ticket.into());
                    self.batch.push(&request);
                }
            },
            Action::Serve => {
                if let Some(link) = self.link.as_mut() {
                    link.serving = true;
                }
            }
            Action::Ping(Ping::App(message)) => {
                if let Some(link) = self.link.as_mut().filter(|l| !l.gone) {
                    link.write(&message);
                }
            }
            // Never asked for: the options require an app-level ping for a heartbeat, and a
            // network probe without one is not started (see `command`).
            Action::Ping(Ping::Protocol(_)) => {}
            Action::Close {
                code,
                reason,
                flush,
                ..
            } => match self.link.as_mut().filter(|l| !l.gone) {
                Some(link) => {
                    link.serving = false;
                    if flush {
                        // The browser sends what it was given before the close frame.
                        while let Some(message) = self.outbox.pop() {
                            link.write_message(message);
                        }
                    }
                    // A code the page may not send (only 1000 and 3000–4999) closes without one.
                    if link.ws.close_with_code_and_reason(code, &reason).is_err() {
                        let _ = link.ws.close();
                    }
                    link.closing = true;
                }
                None => self.machine.shut_done(now),
            },
            Action::Shut { shut, .. } => {
                if let Some(link) = self.link.as_mut().filter(|l| !l.gone) {
                    link.serving = false;
                    // A page cannot send every close code (1009, 1002 are the browser's own):
                    // those close without one. A dead link is not waited for either.
                    let _ = match shut {
                        Shut::Send(code) if code == 1000 || (3000..=4999).contains(&code) => {
                            link.ws.close_with_code(code)
                        }
                        _ => link.ws.close(),
                    };
                    link.gone = true;
                }
                self.machine.shut_done(now);
            }
            Action::Finish(end) => {
                if self.link.is_some() {
                    self.drop_link();
                }
                self.locate_due = None;
                self.attempt_due = None;
                self.greeting_due = None;
                self.ticket = self.ticket.wrapping_add(1);
                match end {
                    End::Closed => {
                        let unsent = self.outbox.seal(Sealed::Closed);
                        self.push_unsent(unsent);
                    }
                    End::Failed(reason) => {
                        let unsent = self.outbox.seal(Sealed::Failed);
                        self.emit(Event::Failed { reason, unsent });
                    }
                }
                self.ended = true;
            }
        }
    }

    /// Hand the outbox to the socket while the browser holds less than the write-ahead, count
    /// what it sent, and watch for a write that makes no progress.
    fn write(&mut self, now: Time) -> bool {
        let Some(link) = self.link.as_mut().filter(|l| l.open && !l.gone) else {
            self.poll_at = None;
            return false;
        };
        let mut moved = false;
        if link.serving && !link.closing {
            while u64::from(link.ws.buffered_amount()) < WRITE_AHEAD {
                let Some(message) = self.outbox.pop() else {
                    break;
                };
                link.write_message(message);
                moved = true;
            }
        }
        let buffered = u64::from(link.ws.buffered_amount());
        let taken = link.sent.saturating_sub(buffered);
        let (mut n, mut bytes) = (0, 0);
        while link.in_flight.front().is_some_and(|(end, _)| *end <= taken) {
            let (_, message) = link.in_flight.pop_front().expect("checked");
            n += 1;
            bytes += message.len();
        }
        if n > 0 {
            self.counters.add_out(n, bytes);
        }
        if buffered == 0 {
            link.blocked = None;
            self.poll_at = None;
            return moved;
        }
        match link.blocked {
            Some((_, before)) if buffered >= before => {
                if now >= link.stall_at && !link.closing {
                    self.machine.lost(now, Fault::WriteStalled);
                    return true;
                }
            }
            _ => {
                link.blocked = Some((now, buffered));
                link.stall_at = self.machine.write_deadline(now);
            }
        }
        self.poll_at = Some(now + DRAIN_POLL);
        moved
    }

    fn open_socket(&mut self, now: Time, url: &str) {
        let ws = match WebSocket::new_with_str_sequence(url, &self.options.protocols) {
            Ok(ws) => ws,
            // The browser's text names the URL, token and all: say it in our own words.
            Err(_) => {
                let why = format!("the browser refused to open {}", redact::url_text(url));
                return self.attempt_failed(now, Cause::ConnectFailed(why));
            }
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let ticket = self.ticket;
        let on = |me: &Weak<Driver>, f: fn(&mut Inner, Time, u32, JsValue)| -> Handler {
            let me = me.clone();
            Closure::new(move |event: JsValue| {
                if let Some(driver) = me.upgrade() {
                    driver.run(|inner, now| f(inner, now, ticket, event));
                }
            })
        };
        let handlers = [
            on(&self.me, |inner, now, ticket, _| inner.on_open(now, ticket)),
            on(&self.me, |inner, now, ticket, event| {
                let data = event.unchecked_into::<MessageEvent>().data();
                inner.on_message(now, ticket, data)
            }),
            on(&self.me, |inner, now, ticket, event| {
                inner.on_close(now, ticket, event.unchecked_into())
            }),
        ];
        ws.set_onopen(Some(handlers[0].as_ref().unchecked_ref()));
        ws.set_onmessage(Some(handlers[1].as_ref().unchecked_ref()));
        ws.set_onclose(Some(handlers[2].as_ref().unchecked_ref()));
        self.link = Some(Link {
            ws,
            ticket,
            open: false,
            serving: false,
            closing: false,
            gone: false,
            sent: 0,
            in_flight: VecDeque::new(),
            blocked: None,
            stall_at: Time::NEVER,
            _handlers: handlers,
        });
    }

    /// The attempt in flight failed: its socket goes, the machine decides what follows.
    fn attempt_failed(&mut self, now: Time, cause: Cause) {
        self.attempt_due = None;
        if self.link.as_ref().is_some_and(|l| !l.open) {
            self.drop_link();
        }
        self.machine.attempt_done(now, Err(cause));
    }

    /// Let the socket go: what the browser never sent goes back to the outbox's front (for the
    /// next link, or `unsent`), as natively.
    fn drop_link(&mut self) {
        let Some(mut link) = self.link.take() else {
            return;
        };
        let buffered = u64::from(link.ws.buffered_amount());
        let taken = link.sent.saturating_sub(buffered);
        let (mut written, mut bytes) = (0, 0);
        let mut unwritten = Vec::new();
        for (end, message) in link.in_flight.drain(..) {
            if end <= taken {
                written += 1;
                bytes += message.len();
            } else {
                unwritten.push(message);
            }
        }
        if written > 0 {
            self.counters.add_out(written, bytes);
        }
        if !unwritten.is_empty() {
            self.outbox.requeue_front(unwritten);
        }
        link.ws.set_onopen(None);
        link.ws.set_onmessage(None);
        link.ws.set_onclose(None);
        if !link.gone {
            let _ = link.ws.close();
        }
        self.poll_at = None;
        self.dropped.push(link);
    }

    fn send_greeting(&mut self, messages: Vec<Message>) {
        if let Some(link) = self.link.as_mut().filter(|l| l.open && !l.gone) {
            for message in messages {
                link.write_message(message);
            }
        }
    }

    fn emit(&mut self, event: Event) {
        self.batch.push(&convert::event(event));
    }

    fn push_unsent(&mut self, unsent: Vec<Message>) {
        let item = convert::object("$unsent");
        let _ = Reflect::set(&item, &"unsent".into(), &convert::messages(&unsent));
        self.batch.push(&item);
    }
}

impl Link {
    /// Send bytes that are not an app message (an app ping).
    fn write(&mut self, message: &Message) -> bool {
        let ok = match message {
            Message::Text(t) => self.ws.send_with_str(t.as_str()).is_ok(),
            Message::Binary(b) => self.ws.send_with_u8_array(b).is_ok(),
        };
        if ok {
            self.sent += message.len() as u64;
        }
        ok
    }

    /// Send an app message (or a greeting), remembered until the browser sent its last byte.
    /// One the socket refused stays unwritten: it goes back to the outbox with the link.
    fn write_message(&mut self, message: Message) {
        let end = if self.write(&message) {
            self.sent
        } else {
            u64::MAX
        };
        self.in_flight.push_back((end, message));
    }
}
