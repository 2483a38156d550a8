package dev.wstether

import dev.wstether.support.Recorder
import dev.wstether.support.TestProxy
import dev.wstether.support.TestServer
import dev.wstether.support.withServer
import dev.wstether.support.recordedClient
import dev.wstether.support.scenarioOptions
import java.util.concurrent.atomic.AtomicInteger
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.flow.filterIsInstance
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout

/** The Kotlin layer's own promises: callbacks, typed errors, threads, Flow, controls. */
@Timeout(30)
class ClientBehaviourTest {
    @Test
    fun listenerExceptionIsReportedAndTheClientGoesOn() = withServer() { srv ->
        val (client, rec) = recordedClient(srv.url)
        val thrown = AtomicInteger()
        client.addListener { e -> if (e is Event.Message) { thrown.incrementAndGet(); throw IllegalStateException("boom") } }
        client.use {
            client.connect()
            client.sendText("one")
            rec.awaitNth<Event.Error> { it.kind == ErrorKind.CALLBACK && "boom" in it.message }
            client.sendText("two")
            rec.awaitNth<Event.Error>(2) { it.kind == ErrorKind.CALLBACK }
            assertEquals(2, thrown.get())
            assertEquals(State.OPEN, client.state)
            assertEquals(listOf("one", "two"), rec.events.filterIsInstance<Event.Message>().map { it.text })
        }
    }

    @Test
    fun throwingAuthProviderFailsOnlyThatAttempt() = withServer("token" to "good") { srv ->
        val calls = AtomicInteger()
        val auth = AuthProvider { req ->
            if (calls.incrementAndGet() == 1) throw RuntimeException("token service down")
            assertTrue(req.attempt >= 2)
            mapOf("Authorization" to "Bearer good")
        }
        val (client, rec) = recordedClient(srv.url, scenarioOptions().copy(auth = auth))
        client.use {
            client.connect()
            rec.awaitNth<Event.Open>()
            val err = rec.events.filterIsInstance<Event.Error>().first()
            assertEquals(ErrorKind.AUTH, err.kind)
            assertTrue("token service down" in err.message, err.message)
            assertEquals(2, calls.get())
        }
    }

    @Test
    fun badArgumentsThrowTypedExceptions() {
        assertFailsWith<WstetherException.InvalidScheme> { Client("http://example.com") }
        assertFailsWith<WstetherException.InvalidUrl> { Client("not a url") }
        assertFailsWith<WstetherException.InvalidHeader> {
            Client("ws://127.0.0.1:1/", ClientOptions(headers = mapOf("X-Bad" to "a\r\nInjected: 1")))
        }
        val negative = assertFailsWith<WstetherException.InvalidOption> {
            Client("ws://127.0.0.1:1/", ClientOptions(connectTimeout = (-1).seconds))
        }
        assertEquals("connect_timeout", negative.option)
        assertFailsWith<WstetherException.InvalidOption> { Client("ws://127.0.0.1:1/", ClientOptions(maxRetries = -1)) }
        assertFailsWith<WstetherException.InvalidOption> {
            Client("ws://127.0.0.1:1/", ClientOptions(backoff = Backoff(factor = 0.5)))
        }
        assertFailsWith<WstetherException.InvalidOption> {
            Client("ws://127.0.0.1:1/", ClientOptions(heartbeat = Heartbeat(interval = kotlin.time.Duration.INFINITE)))
        }
        assertFailsWith<WstetherException.InvalidCertificate> {
            Client("wss://127.0.0.1:1/", ClientOptions(rootCertificatePem = "not a certificate"))
        }

        val client = Client("ws://127.0.0.1:1/", ClientOptions(maxMessageSize = 8, outbox = OutboxLimits(maxMessages = 2)))
        val big = assertFailsWith<WstetherException.MessageTooLarge> { client.sendText("123456789") }
        assertEquals(9L, big.size)
        client.sendText("a")
        client.sendText("b")
        assertFailsWith<WstetherException.QueueFull> { client.sendText("c") }
        runBlocking {
            assertFailsWith<WstetherException.InvalidCloseCode> { client.close(999) }
            assertFailsWith<WstetherException.InvalidCloseCode> { client.close(70000) }
            assertFailsWith<WstetherException.CloseReasonTooLong> { client.close(1000, "x".repeat(124)) }
            assertEquals(listOf(Message.Text("a"), Message.Text("b")), client.close(1000))
            assertEquals(emptyList(), client.close(1000), "close is idempotent")
        }
        assertFailsWith<WstetherException.Closed> { client.sendText("late") }
        assertFailsWith<WstetherException.Closed> { client.connect() }
    }

    private fun eventThreads() = Thread.getAllStackTraces().keys.filter { it.name.startsWith("wstether-events") && it.isAlive }

    @Test
    fun clientsShareTheEventThreads() = withServer() { srv ->
        // Threads a blocked listener of an earlier test added end after 10 s without work.
        val before = eventThreads().size
        val clients = List(30) { recordedClient(srv.url) }
        clients.forEach { it.first.connect() }
        clients.forEachIndexed { i, (c, _) -> repeat(3) { j -> c.sendText("$i:$j") } }
        clients.forEachIndexed { i, (_, rec) ->
            rec.await("client $i's echoes") { evs -> evs.count { it is Event.Message } == 3 }
            assertEquals((0 until 3).map { "$i:$it" }, rec.events.filterIsInstance<Event.Message>().map { it.text })
        }
        // The watcher and one worker serve every client (none per client).
        assertTrue(eventThreads().size <= maxOf(before, 2), eventThreads().map { it.name }.toString())
        runBlocking { clients.forEach { it.first.close(1000, "bye") } }
        assertTrue(srv.waitConnections(0), "sockets left open")
        assertTrue(eventThreads().size <= maxOf(before, 2))
        // A client that failed on its own is released too.
        srv.reject(status = 403)
        val (failing, rec) = recordedClient(srv.url)
        failing.connect()
        rec.awaitNth<Event.Failed>()
    }

    @Test
    fun aBlockedListenerDoesNotStallOtherClients() = withServer() { srv ->
        val release = java.util.concurrent.CountDownLatch(1)
        val entered = java.util.concurrent.CountDownLatch(1)
        val (slow, slowRec) = recordedClient(srv.url)
        slow.addListener { e ->
            if (e is Event.Message && e.text == "block") {
                entered.countDown()
                release.await(20, java.util.concurrent.TimeUnit.SECONDS)
            }
        }
        val (fast, fastRec) = recordedClient(srv.url)
        slow.use {
            fast.use {
                slow.connect()
                fast.connect()
                slow.sendText("block")
                assertTrue(entered.await(5, java.util.concurrent.TimeUnit.SECONDS))
                slow.sendText("after")
                fast.sendText("meanwhile")
                fastRec.awaitNth<Event.Message> { it.text == "meanwhile" }
                // The blocked client's own events wait, in order: the recorder (its first
                // listener) saw "block", nothing after it.
                assertEquals(listOf("block"), slowRec.events.filterIsInstance<Event.Message>().map { it.text })
                release.countDown()
                slowRec.awaitNth<Event.Message> { it.text == "after" }
            }
        }
    }

    @Test
    fun aClientDroppedWithoutCloseIsClosedWhenCollected() = withServer() { srv ->
        fun openAndForget() {
            val (client, rec) = recordedClient(srv.url)
            client.connect()
            rec.awaitNth<Event.Open>()
        }
        openAndForget()
        assertTrue(srv.waitConnections(1), "the client did not connect")
        // Nothing references the client now: collection must close its socket.
        val deadline = System.nanoTime() + 10_000_000_000L
        while ((srv.stats()["live"] as Number).toInt() > 0 && System.nanoTime() < deadline) {
            System.gc()
            Thread.sleep(20)
        }
        assertTrue(srv.waitConnections(0), "socket survived collection")
    }

    @Test
    fun flowDeliversEventsInOrderAndCompletes() = withServer() { srv ->
        val client = Client(srv.url, scenarioOptions())
        val flow = client.events
        client.connect()
        for (i in 0 until 100) client.sendText("m$i")
        val texts = runBlocking {
            withTimeout(5.seconds) { flow.filterIsInstance<Event.Message>().take(100).toList().map { it.text } }
        }
        assertEquals(List(100) { "m$it" }, texts)
        runBlocking {
            client.close(1000, "bye")
            // The flow completes after the terminal close: collecting the rest ends.
            val rest = withTimeout(5.seconds) { flow.toList() }
            assertTrue(rest.last() is Event.StateChanged || rest.last() is Event.Closed, "rest: $rest")
        }
    }

    @Test
    fun blastArrivesCompleteAndInOrder() = withServer() { srv ->
        val (client, rec) = recordedClient(srv.url)
        client.use {
            client.connect()
            client.sendText("!blast 5000 64")
            rec.awaitNth<Event.Message> { it.text == "!blast-done" }
            val texts = rec.events.filterIsInstance<Event.Message>().map { it.text!! }
            assertEquals(5001, texts.size)
            texts.dropLast(1).forEachIndexed { i, t -> assertTrue(t.startsWith("$i:"), t) }
        }
    }

    @Test
    fun messagesOfEverySizeArriveIntactAndInOrder() = withServer() { srv ->
        // Around each boundary of the path: the reader's scratch buffer (256 B), the packed
        // form's limit (16 KiB: larger messages cross as events of their own), one batch.
        val sizes = listOf(0, 1, 255, 256, 257, 1000, 16_383, 16_384, 70_000)
        val sent = sizes.flatMap { n ->
            listOf(Message.Text("é".repeat(n / 2) + "x".repeat(n % 2)), Message.Binary(ByteArray(n) { (it * 7).toByte() }))
        }
        val (client, rec) = recordedClient(srv.url)
        client.use {
            client.connect()
            rec.awaitNth<Event.Open>()
            sent.forEach { client.send(it) }
            rec.awaitNth<Event.Message>(sent.size)
            assertEquals(sent, rec.events.filterIsInstance<Event.Message>().map { it.message })
        }
    }

    @Test
    fun pauseAndResume() = withServer() { srv ->
        val (client, rec) = recordedClient(srv.url)
        client.use {
            client.connect()
            rec.awaitNth<Event.Open>()
            client.pause()
            rec.awaitNth<Event.Closed>()
            assertEquals(State.PAUSED, client.state)
            assertEquals(SendStatus.QUEUED, client.sendText("while paused"))
            client.resume()
            val m = rec.awaitNth<Event.Message>()
            assertEquals("while paused", m.text)
            assertEquals(2, rec.events.count { it is Event.Open })
        }
    }

    @Test
    fun networkChangedFindsADeadLinkQuickly() = withServer() { srv ->
        TestProxy.start(srv).use { proxy ->
            // Next heartbeat a minute away: only networkChanged()'s probe (answer within the
            // heartbeat timeout) can find the dead link in time.
            val options = scenarioOptions().copy(heartbeat = Heartbeat(interval = 60.seconds, timeout = 500.milliseconds))
            val (client, rec) = recordedClient(proxy.url, options)
            client.use {
                client.connect()
                rec.awaitNth<Event.Open>()
                proxy.mode("blackhole")
                client.networkChanged()
                val r = rec.awaitNth<Event.Reconnecting>(timeout = 2.seconds)
                assertEquals(CauseKind.NETWORK_CHANGED, r.cause.kind)
                proxy.mode("pass")
                rec.awaitNth<Event.Open>(2)
            }
        }
    }

    @Test
    fun aListenerBusyForLongIsNotTakenForADeadLink() = withServer() { srv ->
        // The event thread reads the socket itself; while a listener holds it, the core must
        // take reading back to see the pongs, or the heartbeat would kill a healthy link.
        val options = scenarioOptions().copy(heartbeat = Heartbeat(interval = 100.milliseconds, timeout = 200.milliseconds))
        val (client, rec) = recordedClient(srv.url, options)
        client.addListener { e ->
            // Away four times what the heartbeat tolerates (the scenario, not a wait).
            if (e is Event.Message && e.text == "stall") Thread.sleep(1_200)
        }
        client.use {
            client.connect()
            rec.awaitNth<Event.Open>()
            client.sendText("stall")
            rec.awaitNth<Event.Message> { it.text == "stall" }
            client.sendText("after")
            rec.awaitNth<Event.Message>(timeout = 5.seconds) { it.text == "after" }
            assertEquals(0, rec.events.count { it is Event.Closed }, rec.tokens())
            assertEquals(1L, client.stats().opens)
            assertEquals(State.OPEN, client.state)
        }
    }

    @Test
    fun statsAndHistory() = withServer() { srv ->
        val (client, rec) = recordedClient(srv.url)
        client.use {
            client.connect()
            client.sendText("abc")
            rec.awaitNth<Event.Message>()
            val s = client.stats()
            assertEquals(1L, s.opens)
            assertEquals(1L, s.messagesIn)
            assertEquals(3L, s.bytesIn)
            assertEquals(1L, s.messagesOut)
            val h = client.history()
            assertEquals(State.OPEN, h.last().to)
            assertTrue(h.any { it.from == State.IDLE && it.to == State.CONNECTING })
        }
    }

    @Test
    fun listenerCanBeRemoved() = withServer() { srv ->
        val (client, rec) = recordedClient(srv.url)
        val other = Recorder()
        val handle = client.addListener(other)
        client.use {
            client.connect()
            rec.awaitNth<Event.Open>()
            other.awaitNth<Event.Open>()
            handle.close()
            client.sendText("x")
            rec.awaitNth<Event.Message>()
            assertEquals(0, other.events.count { it is Event.Message })
        }
    }

    @Test
    fun closeFromInsideAListener() = withServer() { srv ->
        val (client, rec) = recordedClient(srv.url)
        client.addListener { e -> if (e is Event.Message) client.close() }
        client.connect()
        client.sendText("bye")
        val closed = rec.awaitNth<Event.Closed>(timeout = 5.seconds)
        assertEquals(1000, closed.code)
        rec.await("state closed", 2.seconds) { client.state == State.CLOSED }
    }

    @Test
    fun durationsCrossAsSeconds() {
        val d = ClientOptions()
        assertEquals(10.seconds, d.connectTimeout)
        assertEquals(30.seconds, d.heartbeat!!.interval)
        assertEquals(1.seconds, d.backoff.initial)
        assertEquals(250.milliseconds, 0.25.seconds)
    }
}
