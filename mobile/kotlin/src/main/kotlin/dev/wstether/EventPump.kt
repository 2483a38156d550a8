package dev.wstether

import dev.wstether.ffi.FfiClient
import java.util.concurrent.atomic.AtomicLong
import java.util.logging.Level
import java.util.logging.Logger

/**
 * The one JVM thread per client that pulls events from the core in batches (one native call
 * per batch: a JNA crossing costs microseconds) and hands each batch to [dispatch], in order.
 * It ends by itself when the core's stream ends (after `Failed`, or after `close()` completed).
 */
internal class EventPump(
    private val native: FfiClient,
    private val batchSize: Int,
    private val dispatch: (List<Event>) -> Unit,
    private val onEnd: () -> Unit,
) {
    val thread: Thread = Thread(::run, "wstether-events-${ids.incrementAndGet()}").apply { isDaemon = true }

    fun start() = thread.start()

    private fun run() {
        try {
            while (true) {
                // Blocks in Rust without holding any JVM lock; empty means the stream ended.
                val batch = native.nextPackedBatch(batchSize.toUInt())
                if (batch.data.isEmpty()) break
                dispatch(Convert.unpack(batch))
            }
        } catch (t: Throwable) {
            log.log(Level.SEVERE, "wstether event thread stopped unexpectedly", t)
        } finally {
            onEnd()
        }
    }

    companion object {
        private val ids = AtomicLong()
        private val log: Logger = Logger.getLogger("dev.wstether")
    }
}
