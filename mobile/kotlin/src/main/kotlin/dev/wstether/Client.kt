package dev.wstether

import dev.wstether.ffi.FfiClient
import java.lang.ref.Cleaner
import java.lang.ref.WeakReference
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
    /** One event. An exception thrown here is caught, logged and reported as `Event.Error(CALLBACK)`. */
    fun onEvent(event: Event)
}

/**
 * A WebSocket client that stays connected (see SPEC.md): reconnects with backoff, detects dead
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
 * Events arrive on one thread per client, in batches pulled from the core; listeners and the
 * [events] flow are fed from it. The client runs until [close] (or `Failed`): keep a reference
 * and close it, e.g. with `use {}`.
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

    // The event thread reaches this client only weakly, so a client the app drops without
    // close() can be collected; the cleaner then closes the native client, which ends the
    // stream and so the thread (SPEC: dropping a client leaves no thread or socket behind).
    private val pump = WeakReference(this).let { self ->
        EventPump(
            native,
            options.eventBatchSize.coerceIn(1, 4096),
            { batch -> self.get()?.dispatch(batch) },
            { self.get()?.onStreamEnd() },
        )
    }
    init {
        CLEANER.register(this, CloseWhenCollected(native))
    }

    init {
        pump.start()
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
     * last event was delivered and the event thread ended (unless called from that thread).
     */
    suspend fun close(code: Int = 1000, reason: String = ""): List<Message> {
        val unsent = Convert.native { native.shutdown(Convert.closeCode(code), reason) }.map(Convert::messageIn)
        withContext(Dispatchers.IO) { joinPump() }
        return unsent
    }

    /** [AutoCloseable]: `close(1000, "")`, blocking the calling thread until done. */
    override fun close() {
        if (Thread.currentThread() === pump.thread) {
            // A listener closing its own client: the native close needs no coroutine machinery.
            Convert.native { native.shutdownBlocking(1000u, "") }
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

    private fun joinPump() {
        if (Thread.currentThread() === pump.thread) return
        // The stream ends right after close completes; the bound only guards a stuck listener.
        pump.thread.join(JOIN_TIMEOUT_MS)
        if (pump.thread.isAlive) log.warning("wstether event thread still busy in a listener after close()")
    }

    private fun dispatch(batch: List<Event>) {
        if (listeners.isNotEmpty()) {
            for (event in batch) {
                for (l in listeners) {
                    try {
                        l.onEvent(event)
                    } catch (t: Throwable) {
                        reportCallbackError(l, t)
                    }
                }
            }
        }
        flowChannel?.let { ch ->
            // Fast path without a coroutine; block (backpressure) only when the collector lags.
            if (!ch.trySend(batch).isSuccess) {
                try {
                    runBlocking { ch.send(batch) }
                } catch (_: ClosedSendChannelException) {
                }
            }
        }
    }

    // SPEC: a callback exception is caught, reported (log and Error event), never stops the client.
    private fun reportCallbackError(failed: ClientListener, t: Throwable) {
        val text = "listener threw ${t.javaClass.name}: ${t.message}"
        log.log(Level.WARNING, text, t)
        val report = Event.Error(ErrorKind.CALLBACK, text)
        for (l in listeners) {
            if (l === failed) continue
            try {
                l.onEvent(report)
            } catch (t2: Throwable) {
                log.log(Level.WARNING, "listener threw while handling a callback error", t2)
            }
        }
        flowChannel?.trySend(listOf(report))
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
        const val JOIN_TIMEOUT_MS = 10_000L
        val log: Logger = Logger.getLogger("dev.wstether")
    }
}
