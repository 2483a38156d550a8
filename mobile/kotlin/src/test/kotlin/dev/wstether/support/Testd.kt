package dev.wstether.support

import java.io.BufferedReader
import java.io.InputStreamReader
import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse

/**
 * The shared `wstether-testd` daemon (tests/README.md), started once per test JVM. It exits when
 * its stdin closes, i.e. when this JVM ends.
 */
object Testd {
    private val process: Process
    private val controlPort: Int
    private val http = HttpClient.newHttpClient()

    init {
        val path = System.getenv("WSTETHER_TESTD") ?: System.getProperty("wstether.testd")
            ?: error("set WSTETHER_TESTD or -Dwstether.testd to the wstether-testd binary")
        process = ProcessBuilder(path).redirectError(ProcessBuilder.Redirect.INHERIT).start()
        val line = BufferedReader(InputStreamReader(process.inputStream)).readLine()
            ?: error("wstether-testd printed nothing")
        @Suppress("UNCHECKED_CAST")
        controlPort = ((Json.parse(line) as Map<String, Any?>)["control"] as Number).toInt()
    }

    /** GET a control route; fails the test on a non-200 answer. */
    @Suppress("UNCHECKED_CAST")
    fun call(path: String, vararg params: Pair<String, Any?>): Map<String, Any?> {
        val query = params.filter { it.second != null }
            .joinToString("&") { (k, v) -> "$k=" + URLEncoder.encode(v.toString(), Charsets.UTF_8) }
        val uri = URI("http://127.0.0.1:$controlPort$path" + if (query.isEmpty()) "" else "?$query")
        val res = http.send(HttpRequest.newBuilder(uri).GET().build(), HttpResponse.BodyHandlers.ofString())
        check(res.statusCode() == 200) { "$path -> ${res.statusCode()} ${res.body()}" }
        return Json.parse(res.body()) as Map<String, Any?>
    }
}

/** A test server inside the daemon. */
class TestServer private constructor(info: Map<String, Any?>) : AutoCloseable {
    val id = (info["id"] as Number).toInt()
    val port = (info["port"] as Number).toInt()
    val url = info["url"] as String
    val caPem = info["ca_pem"] as String?
    /** The certificate to pin, for `tls=selfsigned` / `tls=ca_flagged`. */
    val certPem = info["cert_pem"] as String?
    /** A client identity the server trusts, with `client_ca=1`. */
    val clientCertPem = info["client_cert_pem"] as String?
    val clientKeyPem = info["client_key_pem"] as String?

    fun token(value: String?) = Testd.call("/server/$id/token", "value" to value)
    fun reject(status: Int, count: Int? = null, retryAfter: Int? = null) =
        Testd.call("/server/$id/reject", "status" to status, "count" to count, "retry_after" to retryAfter)
    fun clearReject() = Testd.call("/server/$id/clear_reject")
    fun answerPings(answer: Boolean) = Testd.call("/server/$id/pings", "answer" to if (answer) 1 else 0)
    fun closeOnOpen(code: Int?, reason: String? = null) =
        Testd.call("/server/$id/close_on_open", "code" to code, "reason" to reason)
    fun closeAll(code: Int, reason: String = "") = Testd.call("/server/$id/close_all", "code" to code, "reason" to reason)
    fun dropAll() = Testd.call("/server/$id/drop_all")
    fun stop(code: Int? = null) = Testd.call("/server/$id/stop", "code" to code)
    fun restart() = Testd.call("/server/$id/restart")
    fun stats(): Map<String, Any?> = Testd.call("/server/$id/stats")
    fun waitReceived(n: Int, timeoutMs: Int = 5000) =
        Testd.call("/server/$id/wait_received", "n" to n, "timeout_ms" to timeoutMs)["ok"] == true
    fun waitConnections(n: Int, timeoutMs: Int = 5000) =
        Testd.call("/server/$id/wait_connections", "n" to n, "timeout_ms" to timeoutMs)["ok"] == true

    override fun close() { Testd.call("/server/$id/dispose") }

    companion object {
        fun start(vararg params: Pair<String, Any?>) = TestServer(Testd.call("/server/start", *params))
    }
}

/** A fault proxy inside the daemon, in front of [target]. */
class TestProxy private constructor(info: Map<String, Any?>) : AutoCloseable {
    val id = (info["id"] as Number).toInt()
    val url = info["url"] as String

    fun mode(mode: String) = Testd.call("/proxy/$id/mode", "mode" to mode)
    fun stats(): Map<String, Any?> = Testd.call("/proxy/$id/stats")
    fun waitLive(n: Int, timeoutMs: Int = 5000) =
        Testd.call("/proxy/$id/wait_live", "n" to n, "timeout_ms" to timeoutMs)["ok"] == true

    override fun close() { Testd.call("/proxy/$id/dispose") }

    companion object {
        fun start(target: TestServer) = TestProxy(Testd.call("/proxy/start", "target_port" to target.port))
    }
}

/** A real proxy from Debian's packages (`tinyproxy` or `dante`) inside the daemon. */
class RealProxy private constructor(info: Map<String, Any?>) : AutoCloseable {
    val id = (info["id"] as Number).toInt()
    val port = (info["port"] as Number).toInt()
    val url = info["url"] as String
    val urlWithWrongPassword = info["url_with_wrong_password"] as String

    override fun close() { Testd.call("/real_proxy/$id/dispose") }

    companion object {
        fun start(kind: String, auth: Boolean = true) =
            RealProxy(Testd.call("/real_proxy/start", "kind" to kind, "auth" to if (auth) 1 else 0))
    }
}

/** Run [block] with a fresh server, disposed afterwards. Returns Unit, as JUnit test methods must. */
fun withServer(vararg params: Pair<String, Any?>, block: (TestServer) -> Unit) {
    TestServer.start(*params).use(block)
}
