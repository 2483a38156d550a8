package dev.wstether

import kotlin.time.Duration

/** Everything a wstether call can refuse; each bad input gets its own type. */
sealed class WstetherException(message: String, cause: Throwable? = null) : Exception(message, cause) {
    /** The URL does not parse. */
    class InvalidUrl(val url: String, val reason: String, message: String) : WstetherException(message)

    /** The URL's scheme is not `ws` or `wss`. */
    class InvalidScheme(val scheme: String, message: String) : WstetherException(message)

    /** A header name or value cannot be sent (CR/LF, non-visible characters). */
    class InvalidHeader(val name: String, val reason: String, message: String) : WstetherException(message)

    /** An option is out of range (negative duration, factor < 1, …). */
    class InvalidOption(val option: String, val reason: String, message: String) : WstetherException(message)

    /** The extra root CA is not valid PEM or holds no certificate. */
    class InvalidCertificate(val reason: String, message: String) : WstetherException(message)

    /** The outbound message exceeds `maxMessageSize`. */
    class MessageTooLarge(val size: Long, val max: Long, message: String) : WstetherException(message)

    /** The outbox is full: the message was not accepted. */
    class QueueFull(val messages: Long, val bytes: Long, message: String) : WstetherException(message)

    /** The close code cannot be sent by a client (use 1000 or 3000–4999). */
    class InvalidCloseCode(val code: Int, message: String) : WstetherException(message)

    /** The close reason is longer than 123 bytes. */
    class CloseReasonTooLong(val bytes: Long, message: String) : WstetherException(message)

    /** The client was closed: it accepts no more messages or commands. */
    class Closed(message: String) : WstetherException(message)

    /** The client gave up (`Failed`): it accepts no more messages. */
    class Failed(message: String) : WstetherException(message)

    /** An operation did not finish within [after]. */
    class Timeout(val after: Duration, message: String) : WstetherException(message)

    /** A provider callback threw, or the native library reported an internal error. */
    class Internal(message: String, cause: Throwable? = null) : WstetherException(message, cause)
}
