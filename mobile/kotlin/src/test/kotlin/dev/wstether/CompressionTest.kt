package dev.wstether

import dev.wstether.support.PythonEcho
import dev.wstether.support.recordedClient
import dev.wstether.support.scenarioOptions
import dev.wstether.support.withServer
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout

/**
 * permessage-deflate against python-websockets (which negotiates it by default), and
 * `requireProtocol` against wstether-testd (which selects no subprotocol unless told to).
 */
@Timeout(60)
class CompressionTest {
    // JSON-like and compressible, as market data or chat history is: about 120 KB.
    private val big = (0 until 2000).joinToString(",", "[", "]") {
        """{"id":$it,"symbol":"ABC","price":${100 + it % 7},"side":"buy"}"""
    }

    @Test
    fun deflateIsNegotiatedByDefaultAndLargeMessagesEchoIntact() = PythonEcho().use { echo ->
        val (client, rec) = recordedClient(echo.url)
        client.use {
            client.connect()
            val open = rec.awaitNth<Event.Open>()
            assertTrue(open.compression!!.startsWith("permessage-deflate"), open.compression)
            assertTrue(open.address!!.startsWith("127.0.0.1:"), open.address)
            client.sendText(big)
            client.sendBinary(big.toByteArray())
            client.sendText("small")
            rec.awaitNth<Event.Message>(3)
            val got = rec.events.filterIsInstance<Event.Message>().map { it.message }
            assertEquals(listOf(Message.Text(big), Message.Binary(big.toByteArray()), Message.Text("small")), got)
        }
    }

    @Test
    fun compressionOffOffersNothing() = PythonEcho().use { echo ->
        val (client, rec) = recordedClient(echo.url, scenarioOptions().copy(compression = Compression.OFF))
        client.use {
            client.connect()
            assertNull(rec.awaitNth<Event.Open>().compression)
            client.sendText(big)
            assertEquals(big, rec.awaitNth<Event.Message>().text)
        }
    }

    @Test
    fun compressionOptionsReachTheAgreement() = PythonEcho().use { echo ->
        val options = Compression(
            clientMaxWindowBits = null,
            serverMaxWindowBits = null,
            clientNoContextTakeover = true,
            serverNoContextTakeover = true,
        )
        val (client, rec) = recordedClient(echo.url, scenarioOptions().copy(compression = options))
        client.use {
            client.connect()
            val agreed = assertNotNull(rec.awaitNth<Event.Open>().compression)
            assertTrue("server_no_context_takeover" in agreed && "client_no_context_takeover" in agreed, agreed)
            repeat(3) { client.sendText(big) }
            rec.awaitNth<Event.Message>(3)
            assertTrue(rec.events.filterIsInstance<Event.Message>().all { it.text == big })
        }
    }

    @Test
    fun defaultsAndLimitsComeFromTheCore() {
        val d = Compression()
        assertTrue(d.enabled)
        assertNotNull(d.clientMaxWindowBits)
        assertTrue(Limits.minServerWindowBits <= Limits.minClientWindowBits && Limits.minClientWindowBits <= Limits.maxWindowBits)
        for (bad in listOf(Compression(clientMaxWindowBits = 8), Compression(serverMaxWindowBits = 16), Compression(clientMaxWindowBits = 1000))) {
            val e = assertFailsWith<WstetherException.InvalidOption> { Client("ws://127.0.0.1:9/", ClientOptions(compression = bad)) }
            assertTrue(e.option.startsWith("compression."), e.option)
            assertTrue("${Limits.maxWindowBits}" in e.message!!, e.message)
        }
    }

    @Test
    fun aServerSelectingNoProtocolOpensWithoutOneUnlessRequired() = withServer() { srv ->
        val (lax, laxRec) = recordedClient(srv.url, scenarioOptions().copy(protocols = listOf("chat")))
        lax.use {
            lax.connect()
            assertNull(laxRec.awaitNth<Event.Open>().protocol)
        }
        val (strict, rec) = recordedClient(srv.url, scenarioOptions().copy(protocols = listOf("chat", "v2"), requireProtocol = true))
        strict.use {
            strict.connect()
            val failed = rec.awaitNth<Event.Failed>()
            assertEquals(CauseKind.INCOMPATIBLE, failed.reason.kind)
            assertTrue("chat" in failed.reason.description, failed.reason.description)
            assertTrue(rec.events.none { it is Event.Open })
            assertEquals(State.FAILED, strict.state)
        }
    }

    @Test
    fun requireProtocolWithAMatchingServer() = withServer("protocols" to "v2") { srv ->
        val (client, rec) = recordedClient(srv.url, scenarioOptions().copy(protocols = listOf("chat", "v2"), requireProtocol = true))
        client.use {
            client.connect()
            assertEquals("v2", rec.awaitNth<Event.Open>().protocol)
        }
    }
}
