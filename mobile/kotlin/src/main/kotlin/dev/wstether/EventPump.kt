package dev.wstether

import com.sun.jna.Pointer
import dev.wstether.ffi.FfiClient
import dev.wstether.ffi.FfiEvent
import dev.wstether.ffi.FfiWorker
import dev.wstether.ffi.dispatchWatch
import java.nio.ByteBuffer
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicLong
import java.util.logging.Level
import java.util.logging.Logger

/** What the shared pump hands a client: its batches, in order, then the end of its stream. */
internal interface EventSink {
    /**
     * One batch of the client's events (never concurrently with another of the same client):
     * packed entries in native memory, valid only during the call, and the other events.
     */
    fun dispatch(data: ByteBuffer, others: List<FfiEvent>)

    /** The stream ended (after `Failed`, or after `close()` completed); no batch follows. */
    fun streamEnded()
}

/**
 * The JVM threads that deliver every client's events, shared by the whole process (the core's
 * `wstether::dispatch`): an idle client costs no thread. One worker serves every client while
 * listeners return promptly; when a client's events have waited 100 ms because every worker is
 * inside a listener, the watcher thread starts another worker (it ends after 10 s without work),
 * so a slow or blocked listener delays other clients by about that much, never for good. Each
 * client's events are delivered in order, one batch at a time (one JNA call per batch; its
 * packed messages are read where they are in native memory, not copied into the heap first).
 */
internal object EventPump {
    private val sinks = ConcurrentHashMap<Long, EventSink>()
    private val ids = AtomicLong()
    private val threads = AtomicLong()
    private val log: Logger = Logger.getLogger("dev.wstether")
    private val workerThreads: MutableSet<Thread> = ConcurrentHashMap.newKeySet()

    @Volatile
    private var watcher: Thread? = null

    /** Deliver [native]'s events to [sink] from now on. */
    fun start(native: FfiClient, sink: EventSink) {
        val id = ids.incrementAndGet()
        sinks[id] = sink
        ensureWatcher()
        native.startDispatch(id.toULong())
    }

    /** Whether the calling thread is one of the pump's workers (a listener is running on it). */
    fun onWorkerThread(): Boolean = Thread.currentThread() in workerThreads

    @Synchronized
    private fun ensureWatcher() {
        if (watcher?.isAlive == true) return
        watcher = Thread(::watch, "wstether-events-watch").apply {
            isDaemon = true
            start()
        }
    }

    private fun watch() {
        try {
            while (dispatchWatch()) {
                Thread(::work, "wstether-events-${threads.incrementAndGet()}").apply {
                    isDaemon = true
                    start()
                }
            }
        } catch (t: Throwable) {
            log.log(Level.SEVERE, "wstether event watcher stopped unexpectedly", t)
        }
    }

    private fun work() {
        val me = Thread.currentThread()
        workerThreads += me
        val worker = FfiWorker()
        try {
            while (true) {
                // Blocks in Rust without holding any JVM lock; null means this thread may end.
                val work = worker.nextWork() ?: break
                val id = work.clientId.toLong()
                try {
                    if (work.dataLen == 0uL) {
                        sinks.remove(id)?.streamEnded()
                    } else {
                        // The entries stay in native memory until this worker's next call.
                        val data = Pointer(work.dataPtr.toLong()).getByteBuffer(0, work.dataLen.toLong())
                        sinks[id]?.dispatch(data, work.others)
                    }
                } catch (t: Throwable) {
                    // Listener exceptions are handled by the client; this is anything else.
                    log.log(Level.SEVERE, "wstether: delivering a batch failed", t)
                }
            }
        } catch (t: Throwable) {
            log.log(Level.SEVERE, "wstether event thread stopped unexpectedly", t)
        } finally {
            workerThreads -= me
            worker.close() // hands back a batch in progress, so no client is stranded
        }
    }
}
