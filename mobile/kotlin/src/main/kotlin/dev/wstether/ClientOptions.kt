package dev.wstether

import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/** The core's defaults, read once from the native library so no number is restated here. */
internal object CoreDefaults {
    val options: dev.wstether.ffi.FfiOptions by lazy { dev.wstether.ffi.defaultOptions() }
}

/**
 * The largest value each option accepts: the core's limits, read from the native library. A
 * larger value makes `Client(...)` throw [WstetherException.InvalidOption] naming the limit.
 */
object Limits {
    private val core by lazy { dev.wstether.ffi.optionLimits() }

    /** Every duration option (365 days). */
    val maxDuration: Duration get() = core.maxDurationSecs.seconds
    /** [ClientOptions.maxMessageSize], in bytes. */
    val maxMessageSize: Long get() = core.maxMessageSize.toLong()
    /** [OutboxLimits.maxMessages]. */
    val maxOutboxMessages: Long get() = core.maxOutboxMessages.toLong()
    /** [OutboxLimits.maxBytes]. */
    val maxOutboxBytes: Long get() = core.maxOutboxBytes.toLong()
    /** [ClientOptions.eventBuffer], in messages. */
    val maxEventBuffer: Long get() = core.maxEventBuffer.toLong()
    /** [ClientOptions.handshakeBudget], handshakes per second per host. */
    val maxHandshakeBudget: Long get() = core.maxHandshakeBudget.toLong()
    /** [ClientOptions.maxRetries]. */
    val maxRetries: Long get() = core.maxRetries.toLong()
}

/** The reconnect delay curve: exponential from [initial], capped at [max], jittered. */
data class Backoff(
    val initial: Duration = CoreDefaults.options.backoff.initialSecs.seconds,
    val max: Duration = CoreDefaults.options.backoff.maxSecs.seconds,
    /** Growth per failed attempt (≥ 1). */
    val factor: Double = CoreDefaults.options.backoff.factor,
    /** 0.0–1.0: the fraction of each delay randomised away, so a fleet does not return at once. */
    val jitter: Double = CoreDefaults.options.backoff.jitter,
    /** A link must stay open this long before the curve starts again from [initial]. */
    val stableAfter: Duration = CoreDefaults.options.backoff.stableAfterSecs.seconds,
)

/** How an application-level pong is recognised. */
sealed class PongMatch {
    /** The whole text equals [text]. */
    data class Exact(val text: String) : PongMatch()

    /** The text contains [text]. */
    data class Contains(val text: String) : PongMatch()
}

/** An application-level ping ([payload]) and how to recognise its answer. */
data class AppPing(val payload: Message, val pong: PongMatch)

/** Keep-alive: the link is dead when nothing arrived for [interval] + [timeout]. */
data class Heartbeat(
    val interval: Duration = CoreDefaults.options.heartbeat!!.intervalSecs.seconds,
    val timeout: Duration = CoreDefaults.options.heartbeat!!.timeoutSecs.seconds,
    /** Send this instead of a protocol Ping, for servers that want an application message. */
    val appPing: AppPing? = null,
)

/** Limits on messages waiting to be sent; a full outbox makes `send` throw, never drop. */
data class OutboxLimits(
    val maxMessages: Long = CoreDefaults.options.outboxMaxMessages.toLong(),
    val maxBytes: Long = CoreDefaults.options.outboxMaxBytes.toLong(),
)

/** Causes that retrying cannot fix: they end in `Failed`. */
data class TerminalPolicy(
    val closeCodes: List<Int> = CoreDefaults.options.terminalCloseCodes.map { it.toInt() },
    val statuses: List<Int> = CoreDefaults.options.terminalStatuses.map { it.toInt() },
)

/** What an [AuthProvider] is told about the attempt it is called for. */
data class AuthRequest(
    /** Attempt number since the last stable link, from 1. */
    val attempt: Int,
    /** The previous attempt was rejected with 401: return fresh credentials. */
    val afterUnauthorized: Boolean,
)

/**
 * Supplies handshake headers (e.g. `Authorization: Bearer <fresh token>`) before every attempt.
 * Called on a native background thread, never the main thread, so it may block to refresh a
 * token. A thrown exception fails that attempt with an `Error(AUTH)` event; the client retries.
 */
fun interface AuthProvider {
    /** The headers for this attempt. */
    fun headers(request: AuthRequest): Map<String, String>
}

/**
 * Computes the greeting (messages sent first on every open, before the outbox), e.g. to
 * resubscribe with current state. Called on a native thread; keep it quick. If it throws,
 * that open sends no greeting (logged) and the link stays up.
 */
fun interface GreetingProvider {
    /** The messages to send first on this open. */
    fun greeting(): List<Message>
}

/** Every option of SPEC.md "Configuration and defaults"; defaults come from the core. */
data class ClientOptions(
    /** Subprotocols offered in the handshake. */
    val protocols: List<String> = emptyList(),
    /** Static handshake headers; CR/LF in a value is an error. */
    val headers: Map<String, String> = emptyMap(),
    /** Called before every attempt for fresh headers. */
    val auth: AuthProvider? = null,
    /** Limit on TCP + TLS + HTTP upgrade. */
    val connectTimeout: Duration = CoreDefaults.options.connectTimeoutSecs.seconds,
    val backoff: Backoff = Backoff(),
    /** Failed attempts since the last successful open before `Failed`; null: never give up. */
    val maxRetries: Int? = null,
    /** Time without a link before `Failed`; null: never give up. */
    val maxElapsed: Duration? = null,
    /** Keep-alive; null turns it off (not advised). */
    val heartbeat: Heartbeat? = Heartbeat(),
    val outbox: OutboxLimits = OutboxLimits(),
    /** Handshakes per second per host for the whole process; null turns the guard off. */
    val handshakeBudget: Int? = CoreDefaults.options.handshakeBudget?.toInt(),
    /** Messages sent first on every open, before the outbox. */
    val greeting: List<Message> = emptyList(),
    /** Computes the greeting on every open (takes precedence over [greeting]). */
    val greetingProvider: GreetingProvider? = null,
    val terminal: TerminalPolicy = TerminalPolicy(),
    /** Largest message in either direction, in bytes. */
    val maxMessageSize: Long = CoreDefaults.options.maxMessageSize.toLong(),
    /** An extra trusted root CA (PEM). There is no way to skip verification. */
    val rootCertificatePem: String? = null,
    /** Inbound messages buffered for a slow consumer before the client stops reading. */
    val eventBuffer: Int = CoreDefaults.options.eventBuffer.toInt(),
    /** How long a local close waits for the server's close frame. */
    val closeTimeout: Duration = CoreDefaults.options.closeTimeoutSecs.seconds,
    /** Most events carried per native call (one JNA crossing per batch, not per message). */
    val eventBatchSize: Int = 1024,
) {
    /** Every option, with secret header values redacted by the core (never a token in a log). */
    override fun toString(): String {
        val shownHeaders = headers.mapValues { (name, value) -> dev.wstether.ffi.redactedHeaderValue(name, value) }
        return "ClientOptions(protocols=$protocols, headers=$shownHeaders, auth=${auth?.let { "<provider>" }}, " +
            "connectTimeout=$connectTimeout, backoff=$backoff, maxRetries=$maxRetries, maxElapsed=$maxElapsed, " +
            "heartbeat=$heartbeat, outbox=$outbox, handshakeBudget=$handshakeBudget, " +
            "greeting=<${greeting.size} messages>, greetingProvider=${greetingProvider?.let { "<provider>" }}, " +
            "terminal=$terminal, maxMessageSize=$maxMessageSize, " +
            "rootCertificatePem=${rootCertificatePem?.let { "<${it.length} chars>" }}, eventBuffer=$eventBuffer, " +
            "closeTimeout=$closeTimeout, eventBatchSize=$eventBatchSize)"
    }
}
