package dev.wstether

import kotlin.time.Duration

/** A data message, inbound or outbound. */
sealed class Message {
    /** A UTF-8 text message. */
    data class Text(val text: String) : Message()

    /** A binary message. */
    class Binary(val data: ByteArray) : Message() {
        override fun equals(other: Any?): Boolean = other is Binary && data.contentEquals(other.data)
        override fun hashCode(): Int = data.contentHashCode()
        override fun toString(): String = "Binary(${data.size} bytes)"
    }
}

/** The client's lifecycle state (docs/contract.md, "States"). */
enum class State {
    /** Built, `connect()` not called yet. */
    IDLE,
    /** An attempt is in flight. */
    CONNECTING,
    /** The link is open. */
    OPEN,
    /** The link was lost; waiting out the backoff delay. */
    WAITING,
    /** Paused by `pause()`. */
    PAUSED,
    /** `close()` is shutting the link down. */
    CLOSING,
    /** Closed by `close()`. Terminal. */
    CLOSED,
    /** Gave up. Terminal. */
    FAILED,
}

/** Which side ended a link. */
enum class Initiator {
    /** This client closed it. */
    LOCAL,
    /** The server sent a close frame. */
    REMOTE,
    /** The socket failed, or the heartbeat found the link dead. */
    NETWORK,
}

/** What kind of trouble an [Event.Error] reports. */
enum class ErrorKind {
    /** An attempt failed (TCP, TLS, handshake, timeout). */
    CONNECT,
    /** The auth provider failed, or the server rejected the credentials. */
    AUTH,
    /** The open link failed (protocol error, oversized message). */
    LINK,
    /** An application callback threw (reported by this layer). */
    CALLBACK,
}

/** Stable kinds of [Cause]; [id] is the name shared by every language (`connect_failed`, …). */
enum class CauseKind(val id: String) {
    CONNECT_FAILED("connect_failed"),
    CONNECT_TIMEOUT("connect_timeout"),
    TLS("tls"),
    HANDSHAKE_REJECTED("handshake_rejected"),
    HANDSHAKE("handshake"),
    AUTH("auth"),
    /** The URL provider threw or named no `ws://`/`wss://` URL. */
    URL_PROVIDER("url_provider"),
    /** The HTTP proxy refused `CONNECT`; [Cause.status] is its status (401/407: terminal). */
    PROXY_REJECTED("proxy_rejected"),
    /** The SOCKS5 proxy refused; [Cause.socksReply] is its reply code. */
    SOCKS_REJECTED("socks_rejected"),
    /** The SOCKS5 proxy refused the credentials (terminal). */
    PROXY_AUTH("proxy_auth"),
    INCOMPATIBLE("incompatible"),
    CLOSED("closed"),
    HEARTBEAT_TIMEOUT("heartbeat_timeout"),
    WRITE_STALLED("write_stalled"),
    NETWORK("network"),
    PROTOCOL("protocol"),
    MESSAGE_TOO_LARGE("message_too_large"),
    NETWORK_CHANGED("network_changed"),
    RETRIES_EXHAUSTED("retries_exhausted"),
    ELAPSED_EXHAUSTED("elapsed_exhausted"),
    INTERNAL("internal"),
}

/**
 * Why a link ended or an attempt failed. Fields that do not apply to [kind] are null;
 * [lastKind]/[lastDescription] describe the last failure behind the two "exhausted" kinds.
 */
data class Cause(
    val kind: CauseKind,
    val description: String,
    val status: Int? = null,
    val retryAfter: Duration? = null,
    val closeCode: Int? = null,
    val closeReason: String? = null,
    val attempts: Int? = null,
    val elapsed: Duration? = null,
    val lastKind: CauseKind? = null,
    val lastDescription: String? = null,
    /** The SOCKS5 reply code, for [CauseKind.SOCKS_REJECTED]. */
    val socksReply: Int? = null,
) {
    override fun toString(): String = "${kind.id}: $description"
}

/** Something the client tells its user, in order, one at a time (docs/contract.md, "Events"). */
sealed class Event {
    /** The state changed (emitted before the event that explains it). */
    data class StateChanged(val state: State) : Event()

    /** An attempt begins; [attempt] counts from 1 since the last stable link. */
    data class Connecting(val attempt: Int) : Event()

    /** The link is open; [protocol] is the subprotocol the server chose. */
    data class Open(
        val attempt: Int,
        val protocol: String?,
        /** The negotiated extension (`permessage-deflate; ...`), or null when uncompressed. */
        val compression: String? = null,
        /** `ip:port` the link connected to. */
        val address: String? = null,
    ) : Event()

    /** A message arrived. */
    data class Message(val message: dev.wstether.Message) : Event() {
        /** The text, if this is a text message. */
        val text: String? get() = (message as? dev.wstether.Message.Text)?.text
    }

    /** A heartbeat got its answer after [rtt]. */
    data class Pong(val rtt: Duration) : Event()

    /** An open link ended. */
    data class Closed(val code: Int, val reason: String, val initiator: Initiator, val willReconnect: Boolean) : Event()

    /** Waiting [delay] before attempt number [attempt]. */
    data class Reconnecting(val attempt: Int, val delay: Duration, val cause: Cause) : Event()

    /** Something failed and the client is still trying. */
    data class Error(val kind: ErrorKind, val message: String) : Event()

    /** Terminal: the client gave up; [unsent] holds every accepted message never written. */
    data class Failed(val reason: Cause, val unsent: List<dev.wstether.Message>) : Event()
}

/** What `send` did with a message. */
enum class SendStatus {
    /** The link is open: the message goes out now. */
    SENT,
    /** The link is not open: the message waits in the outbox for the next open. */
    QUEUED,
}
