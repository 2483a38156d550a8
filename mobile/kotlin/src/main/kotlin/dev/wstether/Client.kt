package dev.wstether

import dev.wstether.ffi.FfiClient
import dev.wstether.ffi.FfiEvent
import dev.wstether.ffi.callbackFailure
import java.lang.ref.Cleaner
import java.lang.ref.WeakReference
import java.nio.ByteBuffer
import java.util.concurrent.CopyOnWriteArrayList
import java.util.logging.Level
import java.util.logging.Logger
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.ClosedSendChannelException
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.receiveAsFlow
import kotlinx.coroutines.flow.transform
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext

/** Receives a client's events, in order, on the client's event thread (never concurrently). */
fun interface ClientListener {
    /**
     * One event. An exception thrown here is caught and logged (`dev.wstether`, WARNING), then
     * reported once as `Event.Error(CALLBACK)` to every listener and the [Client.events] flow,
     * right after this event; one thrown while handling an `Event.Error` is only logged.
     */
    fun onEvent(event: Event)
}

/**
 * A WebSocket client that stays connected (see docs/contract.md): reconnects with backoff, detects dead
 * links, queues messages while disconnected and hands back what was never sent.
 *
 * ```
 * Client("wss://example.com/ws", ClientOptions(heartbeat = Heartbeat(interval = 20.seconds))).use { client ->
 *     client.addListener { event -> if (event is Event.Message) println(event.text) }
 *     client.connect()
 *     client.sendText("hello")
 * }
 * ```
 *
 * Events arrive on event threads shared by every client of the process (an idle client costs
 * none), in batches pulled from the core, one batch at a time per client and in order; listeners
 * and the [events] flow are fed from them. A listener that blocks delays other clients by at
 * most about 100 ms (another thread takes over). The client runs until [close] (or `Failed`):
 * keep a reference and close it, e.g. with `use {}`.
 *
 * @throws WstetherException for a bad URL, header or option — at construction, never at first use.
 */
class Client private constructor(
    url: String?,
    urlProvider: UrlProvider?,
    options: ClientOptions,
) : AutoCloseable {
    /** A client for [url] (`ws://` or `wss://`). */
    constructor(url: String, options: ClientOptions = ClientOptions()) : this(url, null, options)

    /**
     * A client whose URL [urlProvider] names before every attempt (e.g. a one-time URL fetched
     * over HTTPS, as Slack's Socket Mode hands out).
     */
    constructor(urlProvider: UrlProvider, options: ClientOptions = ClientOptions()) : this(null, urlProvider, options)

    private val native: FfiClient = Convert.native {
        val auth = options.auth?.let(::NativeAuth)
        val greeting = options.greetingProvider?.let(::NativeGreeting)
        if (urlProvider != null) {
            FfiClient.withUrlProvider(NativeUrl(urlProvider), Convert.options(options), auth, greeting)
        } else {
            FfiClient(url!!, Convert.options(options), auth, greeting)
        }
    }
    private val listeners = CopyOnWriteArrayList<ClientListener>()

    @Volatile
    private var flowChannel: Channel<List<Event>>? = null

    @Volatile
    private var pumpEnded = false

    // The event threads reach this client only weakly, so a client the app drops without
    // close() can be collected; the cleaner then closes the native client, which ends the
    // stream (docs/contract.md, promise 5: dropping a client leaves no thread or socket behind).
    init {
        CLEANER.register(this, CloseWhenCollected(native))
        val self = WeakReference(this)
        EventPump.start(native, object : EventSink {
            override fun dispatch(data: ByteBuffer, others: List<FfiEvent>) { self.get()?.dispatch(data, others) }
            override fun streamEnded() { self.get()?.onStreamEnd() }
        })
    }

    /**
     * The events as a [Flow], for one collector. Take it before [connect] to see every event.
     * A slow collector slows the socket (bounded buffer, TCP backpressure); the flow completes
     * after the terminal event.
     */
    val events: Flow<Event> by lazy {
        // Whole batches go through the channel: one hand-off per batch, not per event.
        val ch = Channel<List<Event>>(FLOW_BUFFER_BATCHES)
        flowChannel = ch
        if (pumpEnded) ch.close()
        ch.receiveAsFlow().transform { batch -> for (e in batch) emit(e) }
    }

    /** Add a listener; close the returned handle to remove it. */
    fun addListener(listener: ClientListener): AutoCloseable {
        listeners += listener
        return AutoCloseable { listeners -= listener }
    }

    /** Start connecting. Does nothing while connecting or open. */
    fun connect() = Convert.native { native.connect() }

    /** Queue a text message; never blocks. [SendStatus.QUEUED] while not open. */
    fun sendText(text: String): SendStatus = Convert.native { Convert.sendStatus(native.sendText(text)) }

    /** Queue a binary message; never blocks. */
    fun sendBinary(data: ByteArray): SendStatus = Convert.native { Convert.sendStatus(native.sendBinary(data)) }

    /** Queue a message of either kind. */
    fun send(message: Message): SendStatus = when (message) {
        is Message.Text -> sendText(message.text)
        is Message.Binary -> sendBinary(message.data)
    }

    /**
     * Close with [code] (1000 or 3000–4999) and [reason]; returns every accepted message never
     * written, in order. Idempotent (a second call returns an empty list). Returns after the
     * last event was delivered (unless called from one of this client's listeners).
     */
    suspend fun close(code: Int = 1000, reason: String = ""): List<Message> {
        val unsent = Convert.native { native.shutdown(Convert.closeCode(code), reason) }.map(Convert::messageIn)
        withContext(Dispatchers.IO) { awaitDelivered() }
        return unsent
    }

    /** [AutoCloseable]: `close(1000, "")`, blocking the calling thread until done. */
    override fun close() {
        if (EventPump.onWorkerThread()) {
            // From a listener: the native close needs no coroutine machinery.
            Convert.native { native.shutdownBlocking(1000u, "") }
            awaitDelivered()
            return
        }
        runBlocking { close(1000, "") }
    }

    /** Close the link and stay disconnected until [resume] (app in background). Sends keep queueing. */
    fun pause() = Convert.native { native.pause() }

    /** Leave the paused state and connect at once (app in foreground). */
    fun resume() = Convert.native { native.resume() }

    /** Skip the current backoff delay. */
    fun reconnectNow() = Convert.native { native.reconnectNow() }

    /**
     * Move to [url] at once (a server-directed reconnect, as Twitch and Discord send): the link
     * closes with 1000 and the client connects to [url] without a backoff delay. [url] is the
     * client's URL from then on (with a [UrlProvider]: the next attempt only).
     */
    fun reconnectTo(url: String) = Convert.native { native.reconnectTo(url) }

    /** The network changed (Wi-Fi ↔ cellular): verify the link now with a short ping. */
    fun networkChanged() = Convert.native { native.networkChanged() }

    /** The current state. */
    val state: State get() = Convert.state(native.state())

    /** A snapshot of the counters. */
    fun stats(): Stats = Convert.stats(native.stats())

    /** The last 64 state changes, oldest first: a flight recorder for bug reports. */
    fun history(): List<Transition> = native.history().map(Convert::transition)

    /** The URL with its password and token-like query values hidden (the core's redaction). */
    val url: String get() = native.redactedUrl()

    /** `Client(url=…, state=…)`, the URL redacted: safe to log. */
    override fun toString(): String = "Client(url=$url, state=$state)"

    private fun awaitDelivered() {
        // Returns at once on the thread delivering this client's events (a listener closing it);
        // the bound only guards a stuck listener.
        if (!native.waitDispatched(JOIN_TIMEOUT_SECS) && !EventPump.onWorkerThread()) {
            log.warning("wstether: a listener is still busy after close()")
        }
    }

    private fun dispatch(data: ByteBuffer, others: List<FfiEvent>) {
        if (flowChannel == null) {
            // Listeners only: each event goes to them as it is read, with no list in between.
            Convert.forEachEvent(data, others) { event ->
                toListeners(event)?.forEach { report -> toListeners(report) }
            }
            return
        }
        dispatch(Convert.unpack(data, others))
    }

    private fun dispatch(batch: List<Event>) {
        var delivered: MutableList<Event>? = null // the batch with reports, once there is one
        if (listeners.isNotEmpty()) {
            for ((i, event) in batch.withIndex()) {
                val reports = toListeners(event)
                if (reports == null) {
                    delivered?.add(event)
                    continue
                }
                val out = delivered ?: batch.subList(0, i).toMutableList().also { delivered = it }
                out.add(event)
                for (report in reports) {
                    toListeners(report) // an Error: what its listeners throw is only logged
                    out.add(report)
                }
            }
        }
        val forFlow = delivered ?: batch
        flowChannel?.let { ch ->
            // Fast path without a coroutine; block (backpressure) only when the collector lags.
            if (!ch.trySend(forFlow).isSuccess) {
                try {
                    runBlocking { ch.send(forFlow) }
                } catch (_: ClosedSendChannelException) {
                }
            }
        }
    }

    // The core's rule (tests/README.md, `callback-error`): log, then report once after the
    // event, unless the listener was handling an Error (no loop). Returns the reports, if any.
    private fun toListeners(event: Event): List<Event>? {
        var reports: MutableList<Event>? = null
        for (l in listeners) {
            try {
                l.onEvent(event)
            } catch (t: Throwable) {
                val failure = callbackFailure("listener", t.toString(), event is Event.Error)
                log.log(Level.WARNING, "wstether: ${failure.message}", t)
                failure.report?.let { (reports ?: mutableListOf<Event>().also { r -> reports = r }).add(Convert.event(it)) }
            }
        }
        return reports
    }

    private fun onStreamEnd() {
        pumpEnded = true
        flowChannel?.close()
    }

    /** Runs when an unclosed client was collected; holds only the native handle, never the client. */
    private class CloseWhenCollected(private val native: FfiClient) : Runnable {
        override fun run() {
            try {
                native.shutdownBlocking(1000u, "client collected without close()")
            } catch (t: Throwable) {
                log.log(Level.WARNING, "closing a collected client failed", t)
            }
        }
    }

    private companion object {
        val CLEANER: Cleaner = Cleaner.create()
        const val FLOW_BUFFER_BATCHES = 4
        const val JOIN_TIMEOUT_SECS = 10.0
        val log: Logger = Logger.getLogger("dev.wstether")
    }
}
