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
    /** Largest [Compression] window in either direction, in bits. */
    val maxWindowBits: Int get() = core.maxWindowBits.toInt()
    /** Smallest [Compression.clientMaxWindowBits]. */
    val minClientWindowBits: Int get() = core.minClientWindowBits.toInt()
    /** Smallest [Compression.serverMaxWindowBits]. */
    val minServerWindowBits: Int get() = core.minServerWindowBits.toInt()
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

/**
 * permessage-deflate (RFC 7692), offered by default with the core's parameters; [Compression.OFF]
 * offers nothing. Windows are 2^bits bytes ([Limits] gives the ranges, checked when the client is
 * built). `Event.Open.compression` says what the server agreed to.
 */
data class Compression(
    /** Offer it at all. */
    val enabled: Boolean = CoreDefaults.options.compression.enabled,
    /** Our compressor's window in bits, offered as a hint; null offers no limit. */
    val clientMaxWindowBits: Int? = CoreDefaults.options.compression.clientMaxWindowBits?.toInt(),
    /** Ask the server to compress with at most this window; null lets it choose. */
    val serverMaxWindowBits: Int? = CoreDefaults.options.compression.serverMaxWindowBits?.toInt(),
    /** Compress each outgoing message on its own (nothing kept between messages). */
    val clientNoContextTakeover: Boolean = CoreDefaults.options.compression.clientNoContextTakeover,
    /** Ask the server to compress each message on its own. */
    val serverNoContextTakeover: Boolean = CoreDefaults.options.compression.serverNoContextTakeover,
) {
    companion object {
        /** No compression: nothing is offered. */
        val OFF = Compression(enabled = false)
    }
}

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

/**
 * Called before every attempt for that attempt's URL (e.g. a one-time URL fetched over HTTPS).
 * Runs on a native background thread, so it may block. A thrown exception fails that attempt
 * (cause [CauseKind.URL_PROVIDER]); the client retries.
 */
fun interface UrlProvider {
    /** The `ws://`/`wss://` URL for this attempt. */
    fun url(request: AuthRequest): String
}

/** Which proxy attempts go through. */
sealed class ProxySetting {
    /** From the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`), as curl reads it. */
    object FromEnvironment : ProxySetting() {
        override fun toString() = "FromEnvironment"
    }

    /** Always direct. */
    object Off : ProxySetting() {
        override fun toString() = "Off"
    }

    /** Always through [url]: `http://user:pass@host:port`, `https://…` or `socks5h://…`. */
    class Url(val url: String) : ProxySetting() {
        /** The URL with its password hidden (by the core). */
        override fun toString() = "Url(${dev.wstether.ffi.redactedUrl(url)})"
        override fun equals(other: Any?) = other is Url && other.url == url
        override fun hashCode() = url.hashCode()
    }
}

/** Every option of docs/contract.md "Options and defaults"; defaults come from the core. */
data class ClientOptions(
    /** Subprotocols offered in the handshake. A server that selects none opens with `protocol == null`. */
    val protocols: List<String> = emptyList(),
    /** A server that selects none of [protocols] fails the client (`Failed`, cause `INCOMPATIBLE`). */
    val requireProtocol: Boolean = CoreDefaults.options.requireProtocol,
    /** permessage-deflate; [Compression.OFF] turns it off. */
    val compression: Compression = Compression(),
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
    /** The proxy (default: from the environment); refusals are [CauseKind.PROXY_REJECTED] and kin. */
    val proxy: ProxySetting = ProxySetting.FromEnvironment,
    /**
     * Trust exactly these server certificates (PEM), self-signed or CA-flagged: the server's
     * certificate must be one of them byte for byte, within its validity, naming the host if it
     * names any. With any pin, the roots are not consulted.
     */
    val pinnedCertificatePem: List<String> = emptyList(),
    /** A client certificate chain (PEM) for mutual TLS; needs [clientKeyPem]. */
    val clientCertificatePem: String? = null,
    /** The client certificate's private key (PEM). Never shown. */
    val clientKeyPem: String? = null,
    /** Addresses used instead of DNS, e.g. `mapOf("example.test" to listOf("::1", "127.0.0.1"))`. */
    val resolve: Map<String, List<String>> = emptyMap(),
) {
    /** Every option, with secret header values redacted by the core (never a token in a log). */
    override fun toString(): String {
        val shownHeaders = headers.mapValues { (name, value) -> dev.wstether.ffi.redactedHeaderValue(name, value) }
        return "ClientOptions(protocols=$protocols, requireProtocol=$requireProtocol, compression=$compression, headers=$shownHeaders, auth=${auth?.let { "<provider>" }}, " +
            "connectTimeout=$connectTimeout, backoff=$backoff, maxRetries=$maxRetries, maxElapsed=$maxElapsed, " +
            "heartbeat=$heartbeat, outbox=$outbox, handshakeBudget=$handshakeBudget, " +
            "greeting=<${greeting.size} messages>, greetingProvider=${greetingProvider?.let { "<provider>" }}, " +
            "terminal=$terminal, maxMessageSize=$maxMessageSize, " +
            "rootCertificatePem=${rootCertificatePem?.let { "<${it.length} chars>" }}, eventBuffer=$eventBuffer, " +
            "closeTimeout=$closeTimeout, eventBatchSize=$eventBatchSize, proxy=$proxy, " +
            "pinnedCertificatePem=<${pinnedCertificatePem.size} certificates>, " +
            "clientCertificatePem=${clientCertificatePem?.let { "<set>" }}, clientKeyPem=${clientKeyPem?.let { "<redacted>" }}, " +
            "resolve=$resolve)"
    }
}
