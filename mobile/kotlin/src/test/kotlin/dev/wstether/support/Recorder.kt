package dev.wstether.support

import dev.wstether.Client
import dev.wstether.ClientListener
import dev.wstether.ClientOptions
import dev.wstether.Backoff
import dev.wstether.Event
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlin.test.fail

/** An event with the time it reached the listener. */
data class Timed(val event: Event, val atNanos: Long)

/**
 * Records a client's events (without `StateChanged` and `Pong`, as tests/README.md's checks do)
 * and waits for conditions with a deadline — never sleep and hope.
 */
class Recorder : ClientListener {
    private val lock = Object()
    private val timed = ArrayList<Timed>()

    override fun onEvent(event: Event) {
        if (event is Event.StateChanged || event is Event.Pong) return
        synchronized(lock) {
            timed += Timed(event, System.nanoTime())
            lock.notifyAll()
        }
    }

    /** Every event so far. */
    val events: List<Event> get() = synchronized(lock) { timed.map { it.event } }

    /** Every event so far, with arrival times. */
    val timedEvents: List<Timed> get() = synchronized(lock) { timed.toList() }

    /** Wait until [condition] holds for the events so far; fail with [what] after [timeout]. */
    fun await(what: String, timeout: Duration = 5.seconds, condition: (List<Event>) -> Boolean): List<Event> {
        val deadline = System.nanoTime() + timeout.inWholeNanoseconds
        synchronized(lock) {
            while (true) {
                val now = timed.map { it.event }
                if (condition(now)) return now
                val left = deadline - System.nanoTime()
                if (left <= 0) fail("timed out waiting for $what; events: ${tokens(now)}\n  $now")
                lock.wait(maxOf(1, left / 1_000_000))
            }
        }
    }

    /** Wait until [count] events match [predicate]; returns the last of them. */
    inline fun <reified T : Event> awaitNth(count: Int = 1, timeout: Duration = 5.seconds, crossinline predicate: (T) -> Boolean = { true }): T {
        val all = await("$count × ${T::class.simpleName}", timeout) { evs -> evs.count { it is T && predicate(it) } >= count }
        return all.filterIsInstance<T>().filter { predicate(it) }[count - 1]
    }

    /** The event names as one string, e.g. `connecting open message closed`, for regex checks. */
    fun tokens(): String = tokens(events)

    companion object {
        fun tokens(evs: List<Event>): String = evs.joinToString(" ") { token(it) }

        fun token(e: Event): String = when (e) {
            is Event.Connecting -> "connecting"
            is Event.Open -> "open"
            is Event.Message -> "message"
            is Event.Closed -> "closed"
            is Event.Reconnecting -> "reconnecting"
            is Event.Error -> "error:" + e.kind.name.lowercase()
            is Event.Failed -> "failed"
            is Event.StateChanged -> "state"
            is Event.Pong -> "pong"
        }
    }
}

/** tests/README.md's default options: fast backoff without jitter, 1 s connect timeout, no heartbeat. */
fun scenarioOptions() = ClientOptions(
    backoff = Backoff(initial = 50.milliseconds, max = 200.milliseconds, factor = 2.0, jitter = 0.0),
    connectTimeout = 1.seconds,
    heartbeat = null,
)

/** A client with a [Recorder] attached, ready for `connect()`. */
fun recordedClient(url: String, options: ClientOptions = scenarioOptions()): Pair<Client, Recorder> {
    val client = Client(url, options)
    val rec = Recorder()
    client.addListener(rec)
    return client to rec
}

/** Assert that [tokens] match the regex [pattern] in full. */
fun assertSequence(pattern: String, tokens: String) {
    if (!Regex(pattern).matches(tokens)) fail("event sequence\n  $tokens\ndoes not match\n  $pattern")
}
