package dev.wstether

import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import kotlin.time.Duration
import kotlin.time.Duration.Companion.days
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout

/** Every duration and size option has the core's limit, refused at construction naming it; no
 *  `toString()` shows a secret (issue 12, items 2, 4 and 5, in Kotlin). */
@Timeout(30)
class LimitsTest {
    private val url = "ws://127.0.0.1:1/"

    private fun refused(options: ClientOptions): WstetherException.InvalidOption =
        assertFailsWith<WstetherException.InvalidOption> { Client(url, options) }

    private fun assertNamed(option: String, reason: String, options: ClientOptions) {
        val e = refused(options)
        assertEquals(option to reason, e.option to e.reason, e.message)
        assertEquals("invalid option $option: $reason", e.message)
    }

    @Test
    fun limitsComeFromTheCore() {
        assertEquals(365.days, Limits.maxDuration)
        assertEquals(1L shl 20, Limits.maxEventBuffer)
        assertTrue(Limits.maxMessageSize > ClientOptions().maxMessageSize)
    }

    @Test
    fun everyDurationOverTheLimitIsRefusedNamingIt() {
        val days = "must be at most 365 days"
        for (d in listOf(Limits.maxDuration + 1.milliseconds, 1e19.seconds, Duration.INFINITE)) {
            assertNamed("connect_timeout", days, ClientOptions(connectTimeout = d))
            assertNamed("close_timeout", days, ClientOptions(closeTimeout = d))
            assertNamed("max_elapsed", days, ClientOptions(maxElapsed = d))
            assertNamed("heartbeat.interval", days, ClientOptions(heartbeat = Heartbeat(interval = d, timeout = d)))
            assertNamed("heartbeat.timeout", days, ClientOptions(heartbeat = Heartbeat(timeout = d)))
            assertNamed("backoff.initial", days, ClientOptions(backoff = Backoff(initial = d, max = d)))
            assertNamed("backoff.max", days, ClientOptions(backoff = Backoff(max = d)))
            assertNamed("backoff.stable_after", days, ClientOptions(backoff = Backoff(stableAfter = d)))
        }
    }

    @Test
    fun everySizeOverTheLimitIsRefusedNamingIt() {
        fun atMost(n: Long) = "must be at most $n"
        assertNamed("event_buffer", atMost(Limits.maxEventBuffer), ClientOptions(eventBuffer = Int.MAX_VALUE))
        assertNamed("max_message_size", atMost(Limits.maxMessageSize), ClientOptions(maxMessageSize = Long.MAX_VALUE))
        assertNamed(
            "outbox.max_messages", atMost(Limits.maxOutboxMessages),
            ClientOptions(outbox = OutboxLimits(maxMessages = Long.MAX_VALUE)),
        )
        assertNamed(
            "outbox.max_bytes", atMost(Limits.maxOutboxBytes),
            ClientOptions(outbox = OutboxLimits(maxBytes = Long.MAX_VALUE)),
        )
        assertNamed("max_retries", atMost(Limits.maxRetries), ClientOptions(maxRetries = Int.MAX_VALUE))
        assertNamed("handshake_budget", atMost(Limits.maxHandshakeBudget), ClientOptions(handshakeBudget = Int.MAX_VALUE))
        assertFailsWith<WstetherException.InvalidOption> { Client(url, ClientOptions(eventBuffer = -1)) }
    }

    @Test
    fun theLimitsThemselvesAreAccepted() {
        val longest = Limits.maxDuration
        Client(
            url,
            ClientOptions(
                connectTimeout = longest,
                closeTimeout = longest,
                maxElapsed = longest,
                heartbeat = Heartbeat(interval = longest, timeout = longest),
                backoff = Backoff(initial = longest, max = longest, stableAfter = longest),
                eventBuffer = Limits.maxEventBuffer.toInt(),
                maxMessageSize = Limits.maxMessageSize,
                outbox = OutboxLimits(Limits.maxOutboxMessages, Limits.maxOutboxBytes),
                maxRetries = Limits.maxRetries.toInt(),
                handshakeBudget = Limits.maxHandshakeBudget.toInt(),
            ),
        ).use { assertEquals(State.IDLE, it.state) }
    }

    @Test
    fun toStringNeverShowsASecret() {
        val options = ClientOptions(
            headers = mapOf("Authorization" to "Bearer sekrit-value", "Cookie" to "sid=cookie-value", "X-Id" to "42"),
            auth = AuthProvider { mapOf("Authorization" to "Bearer from-provider") },
        )
        Client("wss://bob:hunter2@example.com/ws?access_token=abc123&room=7", options).use { client ->
            for (text in listOf(options.toString(), client.toString(), client.url)) {
                for (secret in listOf("sekrit-value", "cookie-value", "hunter2", "abc123")) {
                    assertFalse(secret in text, text)
                }
            }
            assertTrue("X-Id=42" in options.toString(), options.toString())
            assertTrue("room=7" in client.url, client.url)
            assertTrue(client.toString().startsWith("Client(url=wss://bob:"), client.toString())
        }
    }
}
