package dev.wstether

import dev.wstether.support.TestProxy
import dev.wstether.support.TestServer
import dev.wstether.support.withServer
import dev.wstether.support.assertSequence
import dev.wstether.support.recordedClient
import dev.wstether.support.scenarioOptions
import java.util.concurrent.atomic.AtomicInteger
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout

/** The named scenarios of tests/README.md, run against wstether-testd. */
@Timeout(30)
class ScenarioTest {
    private val nanosPerMs = 1_000_000L

    @Suppress("UNCHECKED_CAST")
    private fun Map<String, Any?>.list(key: String) = this[key] as List<Any?>
    private fun Map<String, Any?>.long(key: String) = (this[key] as Number).toLong()

    @Test
    fun echo() = withServer("protocols" to "chat") { srv ->
        val (client, rec) = recordedClient(srv.url, scenarioOptions().copy(protocols = listOf("v0", "chat")))
        client.connect()
        client.sendText("hello")
        client.sendBinary(byteArrayOf(1, 2, 3))
        rec.awaitNth<Event.Message>(2)
        val unsent = runBlocking { client.close(1000, "bye") }
        assertEquals(emptyList(), unsent)
        assertSequence("connecting open message message closed", rec.tokens())
        val ev = rec.events
        assertEquals(Event.Connecting(1), ev[0])
        val open = ev[1] as Event.Open
        assertEquals(1, open.attempt)
        assertEquals("chat", open.protocol)
        assertEquals(null, open.compression)
        assertTrue(open.address!!.startsWith("127.0.0.1:"), open.address)
        assertEquals(Message.Text("hello"), (ev[2] as Event.Message).message)
        assertEquals(Message.Binary(byteArrayOf(1, 2, 3)), (ev[3] as Event.Message).message)
        val closed = ev[4] as Event.Closed
        assertEquals(1000, closed.code)
        assertEquals(Initiator.LOCAL, closed.initiator)
        assertEquals(false, closed.willReconnect)
        val stats = srv.stats()
        assertEquals(listOf("hello", "bin:3"), stats.list("received"))
        assertTrue(stats.list("protocols").single().toString().replace(" ", "") == "v0,chat")
        assertEquals(listOf(1000L), stats.list("close_codes"))
        assertEquals(1L, stats.long("handshakes"))
        assertEquals(State.CLOSED, client.state)
    }

    @Test
    fun serverRestart() = withServer() { srv ->
        val (client, rec) = recordedClient(srv.url)
        client.use {
            client.connect()
            rec.awaitNth<Event.Open>()
            srv.stop(code = 1012)
            rec.awaitNth<Event.Error> { it.kind == ErrorKind.CONNECT }
            srv.restart()
            rec.awaitNth<Event.Open>(2)
            assertSequence(
                "connecting open closed reconnecting( connecting error:connect reconnecting)+ connecting open",
                rec.tokens(),
            )
            val closed = rec.events.filterIsInstance<Event.Closed>().single()
            assertEquals(Event.Closed(1012, closed.reason, Initiator.REMOTE, true), closed)
            val reconnects = rec.events.filterIsInstance<Event.Reconnecting>()
            assertEquals(CauseKind.CLOSED, reconnects.first().cause.kind)
            assertTrue(reconnects.drop(1).all { it.cause.kind == CauseKind.CONNECT_FAILED })
            val stats = srv.stats()
            assertEquals(2L, stats.long("handshakes"))
            assertTrue(1012L in stats.list("close_codes"))
            assertTrue(stats.long("live") <= 1)
        }
    }

    @Test
    fun serverCrash() = withServer() { srv ->
        val (client, rec) = recordedClient(srv.url)
        client.use {
            client.connect()
            rec.awaitNth<Event.Open>()
            srv.dropAll()
            rec.awaitNth<Event.Open>(2)
            assertSequence("connecting open closed reconnecting connecting open", rec.tokens())
            assertEquals(Event.Closed(1006, rec.events.filterIsInstance<Event.Closed>()[0].reason, Initiator.NETWORK, true),
                rec.events.filterIsInstance<Event.Closed>()[0])
            assertEquals(CauseKind.NETWORK, rec.events.filterIsInstance<Event.Reconnecting>()[0].cause.kind)
        }
    }

    private fun deadLinkScenario(
        cause: CauseKind,
        breakLink: () -> Unit,
        heal: () -> Unit,
        url: String,
        whileOpen: () -> Unit = {},
    ) {
        val options = scenarioOptions().copy(heartbeat = Heartbeat(interval = 200.milliseconds, timeout = 200.milliseconds))
        val (client, rec) = recordedClient(url, options)
        client.use {
            client.connect()
            rec.awaitNth<Event.Open>()
            val t0 = System.nanoTime()
            breakLink()
            val closed = rec.awaitNth<Event.Closed>()
            heal()
            val closedAt = rec.timedEvents.first { it.event is Event.Closed }.atNanos
            rec.awaitNth<Event.Open>(2)
            assertEquals(1006, closed.code)
            assertEquals(Initiator.NETWORK, closed.initiator)
            assertTrue(closed.willReconnect)
            if (cause == CauseKind.HEARTBEAT_TIMEOUT) {
                val ms = (closedAt - t0) / nanosPerMs
                assertTrue(ms in 150..600, "dead link found after $ms ms; expected 200–400 ms (+ slack)")
            }
            assertEquals(cause, rec.events.filterIsInstance<Event.Reconnecting>()[0].cause.kind)
            assertSequence(
                "connecting open closed reconnecting( connecting error:connect reconnecting)* connecting open",
                rec.tokens(),
            )
            whileOpen()
        }
    }

    @Test
    fun halfOpen() = withServer() { srv ->
        TestProxy.start(srv).use { proxy ->
            deadLinkScenario(CauseKind.HEARTBEAT_TIMEOUT, { proxy.mode("blackhole") }, { proxy.mode("pass") }, proxy.url) {
                assertTrue(proxy.waitLive(1), "the dead link was not closed by the client: ${proxy.stats()}")
            }
        }
    }

    @Test
    fun hungServer() = withServer() { srv ->
        deadLinkScenario(CauseKind.HEARTBEAT_TIMEOUT, { srv.answerPings(false) }, { srv.answerPings(true) }, srv.url)
    }

    @Test
    fun reset() = withServer() { srv ->
        TestProxy.start(srv).use { proxy ->
            deadLinkScenario(CauseKind.NETWORK, { proxy.mode("reset") }, { proxy.mode("pass") }, proxy.url)
        }
    }

    @Test
    fun authRefresh() = withServer("token" to "t1") { srv ->
        val calls = AtomicInteger()
        val tokens = listOf("t1", "t1", "t2")
        val auth = AuthProvider { _ ->
            val n = calls.getAndIncrement()
            mapOf("Authorization" to "Bearer ${tokens.getOrElse(n) { "t2" }}")
        }
        val (client, rec) = recordedClient(srv.url, scenarioOptions().copy(auth = auth))
        client.use {
            client.connect()
            rec.awaitNth<Event.Open>()
            srv.token("t2")
            srv.dropAll()
            rec.awaitNth<Event.Open>(2)
            assertSequence("connecting open closed reconnecting connecting error:auth connecting open", rec.tokens())
            assertEquals(3, calls.get())
            val stats = srv.stats()
            assertEquals(listOf("Bearer t1", "Bearer t1", "Bearer t2"), stats.list("auth_headers"))
            assertEquals(1L, stats.long("rejected"))
        }
    }

    @Test
    fun retryAfter() = withServer() { srv ->
        srv.reject(status = 503, count = 1, retryAfter = 1)
        val (client, rec) = recordedClient(srv.url)
        client.use {
            client.connect()
            rec.awaitNth<Event.Open>()
            assertSequence("connecting error:connect reconnecting connecting open", rec.tokens())
            val ev = rec.events
            assertEquals(Event.Connecting(1), ev[0])
            val r = ev[2] as Event.Reconnecting
            assertEquals(2, r.attempt)
            assertTrue(r.delay >= 1.seconds, "delay ${r.delay} ignores Retry-After")
            assertEquals(CauseKind.HANDSHAKE_REJECTED, r.cause.kind)
            assertEquals(503, r.cause.status)
            assertEquals(1.seconds, r.cause.retryAfter)
            assertEquals(Event.Connecting(2), ev[3])
            assertEquals(2, (ev[4] as Event.Open).attempt)
            val times = srv.stats().list("handshake_times_ms").map { (it as Number).toLong() }
            assertTrue(times[1] - times[0] >= 1000, "handshakes $times")
        }
    }

    @Test
    fun close1013() = withServer() { srv ->
        val (client, rec) = recordedClient(srv.url)
        client.use {
            client.connect()
            rec.awaitNth<Event.Open>()
            srv.closeAll(1013, "later")
            rec.awaitNth<Event.Open>(2)
            assertSequence("connecting open closed reconnecting connecting open", rec.tokens())
            val closed = rec.events.filterIsInstance<Event.Closed>().single()
            assertEquals(Event.Closed(1013, "later", Initiator.REMOTE, true), closed)
            val r = rec.events.filterIsInstance<Event.Reconnecting>().single()
            assertEquals(200.milliseconds, r.delay)
            assertEquals(CauseKind.CLOSED, r.cause.kind)
        }
    }

    @Test
    fun terminal403() = withServer() { srv ->
        srv.reject(status = 403)
        val (client, rec) = recordedClient(srv.url)
        client.use {
            client.connect()
            val failed = rec.awaitNth<Event.Failed>()
            assertSequence("connecting error:auth failed", rec.tokens())
            assertEquals(CauseKind.HANDSHAKE_REJECTED, failed.reason.kind)
            assertEquals(403, failed.reason.status)
            assertEquals(emptyList(), failed.unsent)
            // A quiet period is the point here: no further attempt may come.
            Thread.sleep(300)
            assertEquals(1L, srv.stats().long("rejected"))
            assertEquals(State.FAILED, client.state)
            kotlin.test.assertFailsWith<WstetherException.Failed> { client.sendText("late") }
        }
    }

    @Test
    fun maxRetries() = withServer() { srv ->
        TestProxy.start(srv).use { proxy ->
            proxy.mode("refuse")
            val (client, rec) = recordedClient(proxy.url, scenarioOptions().copy(maxRetries = 3))
            client.use {
                client.connect()
                val failed = rec.awaitNth<Event.Failed>()
                assertSequence(
                    "connecting error:connect reconnecting connecting error:connect reconnecting connecting error:connect failed",
                    rec.tokens(),
                )
                assertEquals(listOf(2, 3), rec.events.filterIsInstance<Event.Reconnecting>().map { it.attempt })
                assertEquals(listOf(1, 2, 3), rec.events.filterIsInstance<Event.Connecting>().map { it.attempt })
                assertEquals(CauseKind.RETRIES_EXHAUSTED, failed.reason.kind)
                assertEquals(3, failed.reason.attempts)
                assertEquals(CauseKind.CONNECT_FAILED, failed.reason.lastKind)
                assertEquals(emptyList(), failed.unsent)
                assertEquals(3L, client.stats().attempts)
            }
        }
    }

    @Test
    fun outbox() = withServer() { srv ->
        srv.stop()
        val options = scenarioOptions().copy(greeting = listOf(Message.Text("greet")))
        val (client, rec) = recordedClient(srv.url, options)
        client.connect()
        for (m in listOf("m1", "m2", "m3")) assertEquals(SendStatus.QUEUED, client.sendText(m))
        rec.awaitNth<Event.Error> { it.kind == ErrorKind.CONNECT }
        srv.restart()
        rec.awaitNth<Event.Message>(4)
        srv.stop()
        rec.awaitNth<Event.Closed>()
        assertEquals(SendStatus.QUEUED, client.sendText("u1"))
        assertEquals(SendStatus.QUEUED, client.sendText("u2"))
        val unsent = runBlocking { client.close(1000, "done") }
        assertEquals(listOf(Message.Text("u1"), Message.Text("u2")), unsent)
        assertSequence(
            "connecting error:connect( reconnecting connecting error:connect)* reconnecting connecting open" +
                " message message message message closed reconnecting( connecting error:connect reconnecting)*( connecting( error:connect)?)?",
            rec.tokens(),
        )
        assertEquals(listOf("greet", "m1", "m2", "m3"), rec.events.filterIsInstance<Event.Message>().map { it.text })
        assertEquals(listOf("greet", "m1", "m2", "m3"), srv.stats().list("received"))
        val closed = rec.events.filterIsInstance<Event.Closed>().single()
        assertEquals(1006, closed.code)
        assertEquals(Initiator.NETWORK, closed.initiator)
    }

    @Test
    fun close1008() = withServer() { srv ->
        val (client, rec) = recordedClient(srv.url)
        client.use {
            client.connect()
            rec.awaitNth<Event.Open>()
            srv.closeAll(1008, "policy")
            val failed = rec.awaitNth<Event.Failed>()
            assertSequence("connecting open closed failed", rec.tokens())
            assertEquals(Event.Closed(1008, "policy", Initiator.REMOTE, false), rec.events[2])
            assertEquals(CauseKind.CLOSED, failed.reason.kind)
            assertEquals(1008, failed.reason.closeCode)
            assertEquals(emptyList(), failed.unsent)
            Thread.sleep(300) // quiet period: no further handshake may come
            assertEquals(1L, srv.stats().long("handshakes"))
        }
    }

    @Test
    fun messageTooLarge() = withServer() { srv ->
        val (client, rec) = recordedClient(srv.url, scenarioOptions().copy(maxMessageSize = 1024))
        client.use {
            client.connect()
            rec.awaitNth<Event.Open>()
            client.sendText("!big 4096")
            rec.awaitNth<Event.Open>(2)
            assertSequence("connecting open error:link closed reconnecting connecting open", rec.tokens())
            val closed = rec.events.filterIsInstance<Event.Closed>().single()
            assertEquals(1009, closed.code)
            assertEquals(Initiator.LOCAL, closed.initiator)
            assertTrue(closed.willReconnect)
            assertEquals(CauseKind.MESSAGE_TOO_LARGE, rec.events.filterIsInstance<Event.Reconnecting>().single().cause.kind)
            assertTrue(1009L in srv.stats().list("close_codes"))
        }
    }

    @Test
    fun acceptThenDrop() = withServer() { srv ->
        srv.closeOnOpen(4000, "busy")
        val (client, rec) = recordedClient(srv.url)
        client.use {
            client.connect()
            rec.awaitNth<Event.Reconnecting>(4)
            srv.closeOnOpen(null)
            // An echo proves a link that stayed open.
            client.sendText("stable")
            rec.awaitNth<Event.Message>()
            assertSequence("(connecting open closed reconnecting )+connecting open message", rec.tokens())
            val closes = rec.events.filterIsInstance<Event.Closed>()
            assertTrue(closes.all { it.code == 4000 && it.initiator == Initiator.REMOTE && it.willReconnect })
            val delays = rec.events.filterIsInstance<Event.Reconnecting>().take(4).map { it.delay.inWholeMilliseconds }
            assertEquals(listOf(50L, 100L, 200L, 200L), delays)
        }
    }

    @Test
    fun tls() = withServer("tls" to 1) { srv ->
        val (trusted, rec) = recordedClient(srv.url, scenarioOptions().copy(rootCertificatePem = srv.caPem))
        trusted.use {
            trusted.connect()
            trusted.sendText("secure")
            val m = rec.awaitNth<Event.Message>()
            assertEquals("secure", m.text)
            assertSequence("connecting open message", rec.tokens())
        }
        val (untrusted, rec2) = recordedClient(srv.url)
        untrusted.use {
            untrusted.connect()
            val r = rec2.awaitNth<Event.Reconnecting>()
            assertSequence("connecting error:connect reconnecting.*", rec2.tokens())
            assertEquals(CauseKind.TLS, r.cause.kind)
        }
    }

    @Test
    fun binaryRoundTripKeepsBytes() = withServer() { srv ->
        val (client, rec) = recordedClient(srv.url)
        client.use {
            client.connect()
            val data = ByteArray(300) { it.toByte() }
            client.sendBinary(data)
            val m = rec.awaitNth<Event.Message>().message as Message.Binary
            assertContentEquals(data, m.data)
        }
    }

    @Test
    fun callbackError() = withServer() { srv ->
        // Capture what the layer logs on dev.wstether.
        val logged = java.util.Collections.synchronizedList(mutableListOf<java.util.logging.LogRecord>())
        val handler = object : java.util.logging.Handler() {
            override fun publish(record: java.util.logging.LogRecord) { logged += record }
            override fun flush() {}
            override fun close() {}
        }
        val logger = java.util.logging.Logger.getLogger("dev.wstether")
        logger.addHandler(handler)
        try {
            val (client, rec) = recordedClient(srv.url)
            val reports = java.util.Collections.synchronizedList(mutableListOf<Event.Error>())
            // The message handler and the error handler in one listener (Kotlin has one kind).
            client.addListener { e ->
                if (e is Event.Message && e.text == "boom") throw IllegalStateException("boom")
                if (e is Event.Error && e.kind == ErrorKind.CALLBACK) {
                    reports += e
                    throw IllegalStateException("the error handler fails too")
                }
            }
            val flow = mutableListOf<Event>()
            val collected = java.util.concurrent.CountDownLatch(1)
            val events = client.events
            val collector = Thread {
                runBlocking { events.collect { if (it !is Event.StateChanged && it !is Event.Pong) synchronized(flow) { flow += it } } }
                collected.countDown()
            }.apply { start() }
            client.connect()
            for (text in listOf("one", "boom", "two")) client.sendText(text)
            rec.awaitNth<Event.Message> { it.text == "two" }
            assertEquals(State.OPEN, client.state)
            assertEquals(emptyList(), runBlocking { client.close(1000, "") })
            assertSequence("connecting open message message error:callback message closed", rec.tokens())
            val report = rec.events[4] as Event.Error
            assertTrue("listener raised" in report.message && "boom" in report.message, report.message)
            assertEquals(listOf(report), reports.toList())
            val closed = rec.events[6] as Event.Closed
            assertEquals(Event.Closed(1000, closed.reason, Initiator.LOCAL, false), closed)
            assertTrue(collected.await(5, java.util.concurrent.TimeUnit.SECONDS))
            collector.join()
            assertEquals(rec.events, synchronized(flow) { flow.toList() }, "the flow sees the same, in order")
            val failures = logged.filter { it.level == java.util.logging.Level.WARNING && it.thrown != null }
            assertEquals(2, failures.size, failures.map { it.message }.toString())
            assertTrue("boom" in failures[0].message)
            assertTrue("the error handler fails too" in failures[1].message)
        } finally {
            logger.removeHandler(handler)
        }
    }
}
