package consumer

import dev.wstether.Backoff
import dev.wstether.Client
import dev.wstether.ClientOptions
import dev.wstether.Event
import dev.wstether.Message
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.time.Duration.Companion.milliseconds

/** Echo, a server restart, echo again: through the jar's own native library, with no flags. */
class EchoTest {
    private val deadlineSeconds = 20L

    private class Server(private val python: String, private val script: String) {
        private var process: Process? = null

        fun start(port: Int = 0): Int {
            val p = ProcessBuilder(python, script, port.toString()).redirectErrorStream(false).start()
            process = p
            return p.inputStream.bufferedReader().readLine().trim().toInt()
        }

        fun stop() {
            process?.let { it.destroyForcibly(); it.waitFor() }
            process = null
        }
    }

    @Test
    fun echoesAndSurvivesAServerRestart() = runBlocking {
        assertNull(System.getProperty("jna.library.path"), "the consumer must need no JNA flag")
        val server = Server(System.getenv("ECHO_SERVER_PYTHON"), System.getenv("ECHO_SERVER_SCRIPT"))
        val events = LinkedBlockingQueue<Event>()
        fun until(what: String, match: (Event) -> Boolean) {
            val end = System.nanoTime() + TimeUnit.SECONDS.toNanos(deadlineSeconds)
            while (true) {
                val left = end - System.nanoTime()
                val event = events.poll(maxOf(left, 0), TimeUnit.NANOSECONDS)
                    ?: throw AssertionError("no $what within $deadlineSeconds s")
                if (match(event)) return
            }
        }
        fun echoed(text: String): (Event) -> Boolean =
            { it is Event.Message && (it.message as? Message.Text)?.text == text }

        try {
            val port = server.start()
            val options = ClientOptions(backoff = Backoff(initial = 50.milliseconds, max = 500.milliseconds))
            val client = Client("ws://127.0.0.1:$port/", options)
            client.addListener { events.add(it) }
            client.connect()
            until("open") { it is Event.Open }
            client.sendText("before restart")
            until("echo", echoed("before restart"))

            server.stop()
            server.start(port)
            until("reopen") { it is Event.Open }
            client.sendText("after restart")
            until("echo", echoed("after restart"))
            assertEquals(emptyList<Message>(), client.close(1000, "bye"))
            val native = javaClass.classLoader.getResource("linux-x86-64/libwstether_ffi.so")
            println("jvm: echoed, survived a server restart, echoed again; native library from $native")
        } finally {
            server.stop()
        }
    }
}
