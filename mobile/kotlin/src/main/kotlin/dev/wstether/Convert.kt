package dev.wstether

import dev.wstether.ffi.FfiAppPing
import dev.wstether.ffi.FfiAuthRequest
import dev.wstether.ffi.FfiBackoff
import dev.wstether.ffi.FfiCause
import dev.wstether.ffi.FfiCauseKind
import dev.wstether.ffi.FfiCompression
import dev.wstether.ffi.FfiErrorKind
import dev.wstether.ffi.FfiEvent
import dev.wstether.ffi.FfiException
import dev.wstether.ffi.FfiHeader
import dev.wstether.ffi.FfiHeartbeat
import dev.wstether.ffi.FfiInitiator
import dev.wstether.ffi.FfiMessage
import dev.wstether.ffi.FfiOptions
import dev.wstether.ffi.FfiPongMatch
import dev.wstether.ffi.FfiProxy
import dev.wstether.ffi.FfiResolve
import dev.wstether.ffi.FfiTransport
import dev.wstether.ffi.FfiSendStatus
import dev.wstether.ffi.FfiState
import dev.wstether.ffi.FfiStats
import dev.wstether.ffi.FfiTransition
import dev.wstether.ffi.InternalException
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.time.Instant
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import kotlin.time.DurationUnit

/** Every conversion between this layer's types and the generated ones, in one place. */
internal object Convert {
    // ---- errors ----

    /** Run a native call, turning its errors into [WstetherException]s. */
    inline fun <T> native(block: () -> T): T =
        try {
            block()
        } catch (e: FfiException) {
            throw error(e)
        } catch (e: InternalException) {
            throw WstetherException.Internal(e.message ?: "internal error", e)
        }

    fun error(e: FfiException): WstetherException = when (e) {
        is FfiException.InvalidUrl -> WstetherException.InvalidUrl(e.url, e.reason, e.description)
        is FfiException.InvalidScheme -> WstetherException.InvalidScheme(e.scheme, e.description)
        is FfiException.InvalidHeader -> WstetherException.InvalidHeader(e.name, e.reason, e.description)
        is FfiException.InvalidOption -> WstetherException.InvalidOption(e.option, e.reason, e.description)
        is FfiException.InvalidCertificate -> WstetherException.InvalidCertificate(e.reason, e.description)
        is FfiException.MessageTooLarge ->
            WstetherException.MessageTooLarge(e.size.toLong(), e.max.toLong(), e.description)
        is FfiException.QueueFull -> WstetherException.QueueFull(e.messages.toLong(), e.bytes.toLong(), e.description)
        is FfiException.InvalidCloseCode -> WstetherException.InvalidCloseCode(e.code.toInt(), e.description)
        is FfiException.CloseReasonTooLong -> WstetherException.CloseReasonTooLong(e.bytes.toLong(), e.description)
        is FfiException.Closed -> WstetherException.Closed(e.description)
        is FfiException.Failed -> WstetherException.Failed(e.description)
        is FfiException.EventsTaken -> WstetherException.Internal(e.description)
        is FfiException.Timeout -> WstetherException.Timeout(e.seconds.seconds, e.description)
        is FfiException.Callback -> WstetherException.Internal(e.description)
    }

    private fun invalid(option: String, reason: String) =
        WstetherException.InvalidOption(option, reason, "invalid option $option: $reason")

    // ---- numbers the generated code carries unsigned: refuse negatives instead of wrapping ----

    private fun u32(option: String, v: Int): UInt =
        if (v < 0) throw invalid(option, "must not be negative") else v.toUInt()

    private fun u64(option: String, v: Long): ULong =
        if (v < 0) throw invalid(option, "must not be negative") else v.toULong()

    private fun u16(option: String, v: Int): UShort =
        if (v !in 0..0xFFFF) throw invalid(option, "must be between 0 and 65535") else v.toUShort()

    /** A close code for the native call; out-of-range codes get the same error the core gives. */
    fun closeCode(code: Int): UShort =
        if (code !in 0..0xFFFF) {
            throw WstetherException.InvalidCloseCode(code, "invalid close code $code: use 1000 or 3000-4999")
        } else {
            code.toUShort()
        }

    /** Seconds for the native call; negative, infinite and NaN values are refused by the core. */
    private fun secs(d: Duration): Double = d.toDouble(DurationUnit.SECONDS)

    // ---- options ----

    fun options(o: ClientOptions): FfiOptions = FfiOptions(
        protocols = o.protocols,
        headers = o.headers.map { (k, v) -> FfiHeader(k, v) },
        connectTimeoutSecs = secs(o.connectTimeout),
        backoff = FfiBackoff(
            initialSecs = secs(o.backoff.initial),
            maxSecs = secs(o.backoff.max),
            factor = o.backoff.factor,
            jitter = o.backoff.jitter,
            stableAfterSecs = secs(o.backoff.stableAfter),
        ),
        maxRetries = o.maxRetries?.let { u32("maxRetries", it) },
        maxElapsedSecs = o.maxElapsed?.let { secs(it) },
        heartbeat = o.heartbeat?.let { hb ->
            FfiHeartbeat(
                intervalSecs = secs(hb.interval),
                timeoutSecs = secs(hb.timeout),
                appPing = hb.appPing?.let { FfiAppPing(messageOut(it.payload), pongMatch(it.pong)) },
            )
        },
        outboxMaxMessages = u64("outbox.maxMessages", o.outbox.maxMessages),
        outboxMaxBytes = u64("outbox.maxBytes", o.outbox.maxBytes),
        handshakeBudget = o.handshakeBudget?.let { u32("handshakeBudget", it) },
        greeting = o.greeting.map(::messageOut),
        terminalCloseCodes = o.terminal.closeCodes.map { u16("terminal.closeCodes", it) },
        terminalStatuses = o.terminal.statuses.map { u16("terminal.statuses", it) },
        maxMessageSize = u64("maxMessageSize", o.maxMessageSize),
        rootCertificatePem = o.rootCertificatePem,
        eventBuffer = u64("eventBuffer", o.eventBuffer.toLong()),
        closeTimeoutSecs = secs(o.closeTimeout),
        requireProtocol = o.requireProtocol,
        compression = FfiCompression(
            enabled = o.compression.enabled,
            clientMaxWindowBits = o.compression.clientMaxWindowBits?.let {
                windowBits("compression.client_max_window_bits", Limits.minClientWindowBits, it)
            },
            serverMaxWindowBits = o.compression.serverMaxWindowBits?.let {
                windowBits("compression.server_max_window_bits", Limits.minServerWindowBits, it)
            },
            clientNoContextTakeover = o.compression.clientNoContextTakeover,
            serverNoContextTakeover = o.compression.serverNoContextTakeover,
        ),
        transport = transport(o),
    )

    private fun transport(o: ClientOptions) = FfiTransport(
        proxy = when (val p = o.proxy) {
            is ProxySetting.FromEnvironment -> FfiProxy.FromEnv
            is ProxySetting.Off -> FfiProxy.Off
            is ProxySetting.Url -> FfiProxy.Url(p.url)
        },
        pinnedCertificatePem = o.pinnedCertificatePem,
        clientCertificatePem = o.clientCertificatePem,
        clientKeyPem = o.clientKeyPem,
        resolve = o.resolve.map { (host, addresses) -> FfiResolve(host, addresses) },
    )

    // What a byte cannot hold gets the core's message (the core checks the rest, by its names).
    private fun windowBits(option: String, min: Int, v: Int): UByte =
        if (v !in 0..255) throw invalid(option, "must be $min to ${Limits.maxWindowBits} (got $v)") else v.toUByte()

    private fun pongMatch(p: PongMatch): FfiPongMatch = when (p) {
        is PongMatch.Exact -> FfiPongMatch.Exact(p.text)
        is PongMatch.Contains -> FfiPongMatch.Contains(p.text)
    }

    fun authRequest(r: FfiAuthRequest) = AuthRequest(r.attempt.toInt(), r.afterUnauthorized)

    fun headers(h: Map<String, String>): List<FfiHeader> = h.map { (k, v) -> FfiHeader(k, v) }

    // ---- messages and events ----

    fun messageOut(m: Message): FfiMessage = when (m) {
        is Message.Text -> FfiMessage.Text(m.text)
        is Message.Binary -> FfiMessage.Binary(m.data)
    }

    fun messageIn(m: FfiMessage): Message = when (m) {
        is FfiMessage.Text -> Message.Text(m.text)
        is FfiMessage.Binary -> Message.Binary(m.data)
    }

    fun sendStatus(s: FfiSendStatus): SendStatus = when (s) {
        FfiSendStatus.SENT -> SendStatus.SENT
        FfiSendStatus.QUEUED -> SendStatus.QUEUED
    }

    fun state(s: FfiState): State = when (s) {
        FfiState.IDLE -> State.IDLE
        FfiState.CONNECTING -> State.CONNECTING
        FfiState.OPEN -> State.OPEN
        FfiState.WAITING -> State.WAITING
        FfiState.PAUSED -> State.PAUSED
        FfiState.CLOSING -> State.CLOSING
        FfiState.CLOSED -> State.CLOSED
        FfiState.FAILED -> State.FAILED
    }

    private fun initiator(i: FfiInitiator): Initiator = when (i) {
        FfiInitiator.LOCAL -> Initiator.LOCAL
        FfiInitiator.REMOTE -> Initiator.REMOTE
        FfiInitiator.NETWORK -> Initiator.NETWORK
    }

    private fun errorKind(k: FfiErrorKind): ErrorKind = when (k) {
        FfiErrorKind.CONNECT -> ErrorKind.CONNECT
        FfiErrorKind.AUTH -> ErrorKind.AUTH
        FfiErrorKind.LINK -> ErrorKind.LINK
        FfiErrorKind.CALLBACK -> ErrorKind.CALLBACK
    }

    private fun causeKind(k: FfiCauseKind): CauseKind = when (k) {
        FfiCauseKind.CONNECT_FAILED -> CauseKind.CONNECT_FAILED
        FfiCauseKind.CONNECT_TIMEOUT -> CauseKind.CONNECT_TIMEOUT
        FfiCauseKind.TLS -> CauseKind.TLS
        FfiCauseKind.HANDSHAKE_REJECTED -> CauseKind.HANDSHAKE_REJECTED
        FfiCauseKind.HANDSHAKE -> CauseKind.HANDSHAKE
        FfiCauseKind.AUTH -> CauseKind.AUTH
        FfiCauseKind.URL_PROVIDER -> CauseKind.URL_PROVIDER
        FfiCauseKind.PROXY_REJECTED -> CauseKind.PROXY_REJECTED
        FfiCauseKind.SOCKS_REJECTED -> CauseKind.SOCKS_REJECTED
        FfiCauseKind.PROXY_AUTH -> CauseKind.PROXY_AUTH
        FfiCauseKind.INCOMPATIBLE -> CauseKind.INCOMPATIBLE
        FfiCauseKind.CLOSED -> CauseKind.CLOSED
        FfiCauseKind.HEARTBEAT_TIMEOUT -> CauseKind.HEARTBEAT_TIMEOUT
        FfiCauseKind.WRITE_STALLED -> CauseKind.WRITE_STALLED
        FfiCauseKind.NETWORK -> CauseKind.NETWORK
        FfiCauseKind.PROTOCOL -> CauseKind.PROTOCOL
        FfiCauseKind.MESSAGE_TOO_LARGE -> CauseKind.MESSAGE_TOO_LARGE
        FfiCauseKind.NETWORK_CHANGED -> CauseKind.NETWORK_CHANGED
        FfiCauseKind.RETRIES_EXHAUSTED -> CauseKind.RETRIES_EXHAUSTED
        FfiCauseKind.ELAPSED_EXHAUSTED -> CauseKind.ELAPSED_EXHAUSTED
        FfiCauseKind.INTERNAL -> CauseKind.INTERNAL
    }

    private fun cause(c: FfiCause) = Cause(
        kind = causeKind(c.kind),
        description = c.description,
        status = c.status?.toInt(),
        retryAfter = c.retryAfterSecs?.seconds,
        closeCode = c.closeCode?.toInt(),
        closeReason = c.closeReason,
        attempts = c.attempts?.toInt(),
        elapsed = c.elapsedSecs?.seconds,
        lastKind = c.lastKind?.let(::causeKind),
        lastDescription = c.lastDescription,
        socksReply = c.socksReply?.toInt(),
    )

    fun event(e: FfiEvent): Event = when (e) {
        is FfiEvent.Message -> Event.Message(messageIn(e.message))
        is FfiEvent.StateChanged -> Event.StateChanged(state(e.state))
        is FfiEvent.Connecting -> Event.Connecting(e.attempt.toInt())
        is FfiEvent.Open -> Event.Open(e.attempt.toInt(), e.protocol, e.compression, e.address)
        is FfiEvent.Pong -> Event.Pong(e.rttSecs.seconds)
        is FfiEvent.Closed -> Event.Closed(e.code.toInt(), e.reason, initiator(e.initiator), e.willReconnect)
        is FfiEvent.Reconnecting -> Event.Reconnecting(e.attempt.toInt(), e.delaySecs.seconds, cause(e.cause))
        is FfiEvent.Error -> Event.Error(errorKind(e.kind), e.message)
        is FfiEvent.Failed -> Event.Failed(cause(e.reason), e.unsent.map(::messageIn))
    }

    internal const val PACKED_TEXT: Byte = 0
    internal const val PACKED_BINARY: Byte = 1

    /**
     * Packed entries read where they are (see `FfiPackedBatch` in bindings/src/events.rs) and
     * the other events, handed to [action] one by one, in order. [data] is a view of native
     * memory: nothing here keeps it, every payload is copied out.
     */
    inline fun forEachEvent(data: ByteBuffer, others: List<FfiEvent>, action: (Event) -> Unit) {
        data.order(ByteOrder.LITTLE_ENDIAN)
        val size = data.limit()
        var scratch = ByteArray(256)
        var next = 0
        var i = 0
        while (i < size) {
            val tag = data.get(i)
            if (tag != PACKED_TEXT && tag != PACKED_BINARY) {
                action(event(others[next++]))
                i += 1
                continue
            }
            val len = data.getInt(i + 1)
            val start = i + 5
            val message = if (tag == PACKED_TEXT) {
                // A String copies its bytes anyway: text goes through one reused array.
                if (len > scratch.size) scratch = ByteArray(maxOf(len, scratch.size * 2))
                data.get(start, scratch, 0, len)
                Message.Text(String(scratch, 0, len, Charsets.UTF_8))
            } else {
                val bytes = ByteArray(len)
                data.get(start, bytes, 0, len)
                Message.Binary(bytes)
            }
            action(Event.Message(message))
            i = start + len
        }
    }

    /** [forEachEvent]'s events as a list. */
    fun unpack(data: ByteBuffer, others: List<FfiEvent>): List<Event> {
        val out = ArrayList<Event>(others.size + 64)
        forEachEvent(data, others) { out += it }
        return out
    }

    // ---- stats ----

    fun stats(s: FfiStats) = Stats(
        attempts = s.attempts.toLong(),
        opens = s.opens.toLong(),
        messagesIn = s.messagesIn.toLong(),
        messagesOut = s.messagesOut.toLong(),
        bytesIn = s.bytesIn.toLong(),
        bytesOut = s.bytesOut.toLong(),
        queuedMessages = s.queuedMessages.toLong(),
        queuedBytes = s.queuedBytes.toLong(),
        lastRtt = s.lastRttSecs?.seconds,
        lastClose = s.lastClose?.let { CloseInfo(it.code.toInt(), it.reason) },
        timeConnected = s.timeConnectedSecs.seconds,
        timeDisconnected = s.timeDisconnectedSecs.seconds,
        address = s.address,
    )

    fun transition(t: FfiTransition) =
        Transition(Instant.ofEpochMilli(t.atUnixMs), state(t.from), state(t.to), t.cause)
}
