package dev.wstether

import dev.wstether.support.RealProxy
import dev.wstether.support.TestServer
import dev.wstether.support.recordedClient
import dev.wstether.support.scenarioOptions
import java.util.Collections
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import org.junit.jupiter.api.assertThrows

/** Reaching servers: real proxies, a URL provider, reconnectTo, pinned and client certificates, resolve. */
@Timeout(30)
class TransportTest {
    private fun port(address: String?) = address!!.substringAfterLast(':').toInt()

    private fun echoOnce(client: Client, rec: dev.wstether.support.Recorder): Event.Open {
        client.connect()
        val open = rec.awaitNth<Event.Open>()
        client.sendText("through")
        rec.awaitNth<Event.Message>()
        return open
    }

    @Test
    fun httpProxyWithCredentialsAndATerminalRefusal() {
        TestServer.start().use { srv ->
            RealProxy.start("tinyproxy").use { proxy ->
                val (client, rec) = recordedClient(srv.url, scenarioOptions().copy(proxy = ProxySetting.Url(proxy.url)))
                client.use {
                    assertEquals(proxy.port, port(echoOnce(client, rec).address))
                    assertEquals(proxy.port, port(client.stats().address))
                }
                val (refused, bad) = recordedClient(srv.url, scenarioOptions().copy(proxy = ProxySetting.Url(proxy.urlWithWrongPassword)))
                refused.use {
                    refused.connect()
                    val failed = bad.awaitNth<Event.Failed>()
                    assertEquals(CauseKind.PROXY_REJECTED, failed.reason.kind)
                    assertTrue(failed.reason.status in setOf(401, 407), "${failed.reason}")
                    assertFalse(bad.events.toString().contains("wrong-password"))
                    assertFalse(scenarioOptions().copy(proxy = ProxySetting.Url(proxy.url)).toString().contains("s3cret"))
                }
            }
        }
    }

    @Test
    fun socks5AndItsReplyCode() {
        TestServer.start().use { srv ->
            RealProxy.start("dante").use { dante ->
                val (client, rec) = recordedClient("ws://localhost:${srv.port}/", scenarioOptions().copy(proxy = ProxySetting.Url(dante.url)))
                client.use { assertEquals(dante.port, port(echoOnce(client, rec).address)) }
                val (blocked, brec) = recordedClient(
                    "ws://127.0.0.2:${srv.port}/",
                    scenarioOptions().copy(proxy = ProxySetting.Url(dante.url), maxRetries = 1),
                )
                blocked.use {
                    blocked.connect()
                    val failed = brec.awaitNth<Event.Failed>()
                    assertEquals(CauseKind.SOCKS_REJECTED, failed.reason.lastKind)
                }
            }
        }
    }

    @Test
    fun proxyOffGoesDirect() {
        TestServer.start().use { srv ->
            val (client, rec) = recordedClient(srv.url, scenarioOptions().copy(proxy = ProxySetting.Off))
            client.use { assertEquals(srv.port, port(echoOnce(client, rec).address)) }
        }
    }

    @Test
    fun aUrlProviderIsCalledOncePerAttempt() {
        TestServer.start().use { a ->
            TestServer.start().use { b ->
                val asked = Collections.synchronizedList(mutableListOf<Int>())
                val client = Client(UrlProvider { request ->
                    asked += request.attempt
                    (if (asked.size == 1) a else b).url
                }, scenarioOptions())
                val rec = dev.wstether.support.Recorder()
                client.addListener(rec)
                client.use {
                    client.connect()
                    rec.awaitNth<Event.Open>()
                    a.dropAll()
                    rec.awaitNth<Event.Open>(2)
                    assertEquals(2, asked.size)
                    assertEquals(2L, client.stats().attempts)
                    assertEquals(b.port, port(client.stats().address))
                }
            }
        }
    }

    @Test
    fun aThrowingUrlProviderFailsThatAttempt() {
        TestServer.start().use { srv ->
            var calls = 0
            val client = Client(UrlProvider { if (++calls == 1) error("token endpoint down") else srv.url }, scenarioOptions())
            val rec = dev.wstether.support.Recorder()
            client.addListener(rec)
            client.use {
                client.connect()
                rec.awaitNth<Event.Open>()
                val r = rec.events.filterIsInstance<Event.Reconnecting>().first()
                assertEquals(CauseKind.URL_PROVIDER, r.cause.kind)
                assertTrue("token endpoint down" in r.cause.description, r.cause.description)
            }
        }
    }

    @Test
    fun reconnectToMovesTheClient() {
        TestServer.start().use { a ->
            TestServer.start().use { b ->
                val (client, rec) = recordedClient(a.url)
                client.use {
                    client.connect()
                    rec.awaitNth<Event.Open>()
                    client.reconnectTo(b.url)
                    rec.awaitNth<Event.Open>(2)
                    val closed = rec.events.filterIsInstance<Event.Closed>().single()
                    assertEquals(1000, closed.code)
                    assertTrue(closed.willReconnect)
                    assertEquals(b.port, port(client.stats().address))
                    assertThrows<WstetherException.InvalidScheme> { client.reconnectTo("http://x/") }
                }
            }
        }
    }

    @Test
    fun aPinnedSelfSignedCertificate() {
        TestServer.start("tls" to "ca_flagged").use { srv ->
            val (unpinned, urec) = recordedClient(srv.url, scenarioOptions().copy(rootCertificatePem = srv.certPem, maxRetries = 1))
            unpinned.use {
                unpinned.connect()
                val error = urec.awaitNth<Event.Error>()
                assertTrue("CA certificate" in error.message && "pinnedCertificatePem" in error.message, error.message)
            }
            val (pinned, prec) = recordedClient(srv.url, scenarioOptions().copy(pinnedCertificatePem = listOf(srv.certPem!!)))
            pinned.use { echoOnce(pinned, prec) }
        }
    }

    @Test
    fun mutualTls() {
        TestServer.start("tls" to 1, "client_ca" to 1).use { srv ->
            val options = scenarioOptions().copy(
                rootCertificatePem = srv.caPem,
                clientCertificatePem = srv.clientCertPem,
                clientKeyPem = srv.clientKeyPem,
            )
            assertFalse(options.toString().contains("PRIVATE KEY"))
            val (client, rec) = recordedClient(srv.url, options)
            client.use { echoOnce(client, rec) }
        }
    }

    @Test
    fun resolveReportsTheAddressUsed() {
        TestServer.start().use { srv ->
            val (client, rec) = recordedClient(
                "ws://dual.test:${srv.port}/",
                scenarioOptions().copy(resolve = mapOf("dual.test" to listOf("::1", "127.0.0.1")), proxy = ProxySetting.Off),
            )
            client.use { assertEquals("127.0.0.1:${srv.port}", echoOnce(client, rec).address) }
        }
    }

    @Test
    fun badTransportOptionsAreTypedErrors() {
        assertThrows<WstetherException.InvalidOption> { Client("ws://h/", ClientOptions(proxy = ProxySetting.Url("ftp://h"))) }
        assertThrows<WstetherException.InvalidCertificate> { Client("wss://h/", ClientOptions(pinnedCertificatePem = listOf("nope"))) }
        assertThrows<WstetherException.InvalidOption> { Client("wss://h/", ClientOptions(clientCertificatePem = "x")) }
        assertThrows<WstetherException.InvalidOption> { Client("ws://h/", ClientOptions(resolve = mapOf("h" to listOf("nope")))) }
    }
}
