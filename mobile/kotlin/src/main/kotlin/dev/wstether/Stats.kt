package dev.wstether

import java.time.Instant
import kotlin.time.Duration

/** The code and reason of a link's end. */
data class CloseInfo(val code: Int, val reason: String)

/** A snapshot of one client's counters (`Client.stats()`). */
data class Stats(
    val attempts: Long,
    val opens: Long,
    val messagesIn: Long,
    val messagesOut: Long,
    val bytesIn: Long,
    val bytesOut: Long,
    val queuedMessages: Long,
    val queuedBytes: Long,
    val lastRtt: Duration?,
    val lastClose: CloseInfo?,
    val timeConnected: Duration,
    val timeDisconnected: Duration,
    /** `ip:port` the last link's TCP connection reached (the proxy's through a proxy). */
    val address: String? = null,
)

/** One state change of the flight recorder (`Client.history()`). */
data class Transition(val at: Instant, val from: State, val to: State, val cause: String)
