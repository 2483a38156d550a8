package dev.wstether.bench

import dev.wstether.Client
import dev.wstether.ClientOptions
import dev.wstether.Event
import java.io.BufferedReader
import java.io.InputStreamReader
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.Response
import okhttp3.WebSocket
import okhttp3.WebSocketListener

/**
 * tests/README.md "throughput": receive N messages of SIZE bytes (`!blast N SIZE`) through the
 * wstether Kotlin layer (listener and Flow) and through OkHttp's WebSocket on the same server,
 * checking count and order, and print messages per second and the ratio.
 */
private const val N = 200_000
private const val SIZE = 64
private const val ROUNDS = 9
private const val WARMUP_ROUNDS = 10

/** Counts blast messages, checks their order, and opens the latch at `!blast-done`. */
private class Tally {
    var count = 0
    var outOfOrder = 0
    val done = CountDownLatch(1)

    fun onText(text: String) {
        if (text == "!blast-done") {
            done.countDown()
            return
        }
        // "17:xxxx": the index prefix must match the arrival position.
        if (!text.startsWith(count.toString()) || text[count.toString().length] != ':') outOfOrder++
        count++
    }
}

private fun result(name: String, n: Int, t: Tally, nanos: Long): Double {
    check(t.count == n && t.outOfOrder == 0) { "$name: got ${t.count} messages, ${t.outOfOrder} out of order" }
    return n / (nanos / 1e9)
}

/** wstether through a [dev.wstether.ClientListener]. */
private fun wstetherListener(url: String, n: Int): Double {
    val tally = Tally()
    val opened = CountDownLatch(1)
    Client(url, ClientOptions()).use { client ->
        client.addListener { e ->
            when (e) {
                is Event.Open -> opened.countDown()
                is Event.Message -> e.text?.let(tally::onText)
                else -> {}
            }
        }
        client.connect()
        check(opened.await(10, TimeUnit.SECONDS)) { "wstether did not open" }
        val t0 = System.nanoTime()
        client.sendText("!blast $n $SIZE")
        check(tally.done.await(120, TimeUnit.SECONDS)) { "wstether: blast not done" }
        return result("wstether", n, tally, System.nanoTime() - t0)
    }
}

/** wstether through its `Flow<Event>`, collected in a coroutine. */
private fun wstetherFlow(url: String, n: Int): Double {
    val tally = Tally()
    Client(url, ClientOptions()).use { client ->
        val flow = client.events
        client.connect()
        return runBlocking {
            var t0 = 0L
            flow.first { e ->
                when (e) {
                    is Event.Open -> { t0 = System.nanoTime(); client.sendText("!blast $n $SIZE") }
                    is Event.Message -> e.text?.let(tally::onText)
                    else -> {}
                }
                tally.done.count == 0L
            }
            result("wstether-flow", n, tally, System.nanoTime() - t0)
        }
    }
}

/** OkHttp's WebSocket, the usual choice on Android. */
private fun okhttp(http: OkHttpClient, url: String, n: Int): Double {
    val tally = Tally()
    val opened = CountDownLatch(1)
    val ws = http.newWebSocket(Request.Builder().url(url).build(), object : WebSocketListener() {
        override fun onOpen(webSocket: WebSocket, response: Response) = opened.countDown()
        override fun onMessage(webSocket: WebSocket, text: String) = tally.onText(text)
    })
    check(opened.await(10, TimeUnit.SECONDS)) { "okhttp did not open" }
    val t0 = System.nanoTime()
    ws.send("!blast $n $SIZE")
    check(tally.done.await(120, TimeUnit.SECONDS)) { "okhttp: blast not done" }
    val rate = result("okhttp", n, tally, System.nanoTime() - t0)
    ws.close(1000, "bye")
    return rate
}

private fun control(port: Int, path: String): String {
    val res = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI("http://127.0.0.1:$port$path")).GET().build(),
        HttpResponse.BodyHandlers.ofString(),
    )
    check(res.statusCode() == 200) { "$path: ${res.body()}" }
    return res.body()
}

fun main(args: Array<String>) {
    val testd = args.firstOrNull() ?: System.getenv("WSTETHER_TESTD") ?: error("usage: Throughput <wstether-testd>")
    val daemon = ProcessBuilder(testd).redirectError(ProcessBuilder.Redirect.INHERIT).start()
    val controlPort = Regex("\\d+").find(BufferedReader(InputStreamReader(daemon.inputStream)).readLine())!!.value.toInt()
    val url = Regex("\"url\":\"([^\"]+)\"").find(control(controlPort, "/server/start"))!!.groupValues[1]
    val http = OkHttpClient.Builder().build()

    // Warm-up: full-size rounds of every path until C2 is done compiling them (it keeps
    // recompiling JNA's reflective struct code for several seconds; on 2 cores that compiler
    // thread competes with the receivers).
    repeat(WARMUP_ROUNDS) {
        wstetherListener(url, N)
        wstetherFlow(url, N)
        okhttp(http, url, N)
    }

    val rates = mutableMapOf<String, MutableList<Double>>()
    repeat(ROUNDS) {
        rates.getOrPut("wstether (listener)") { mutableListOf() } += wstetherListener(url, N)
        rates.getOrPut("wstether (Flow)") { mutableListOf() } += wstetherFlow(url, N)
        rates.getOrPut("okhttp") { mutableListOf() } += okhttp(http, url, N)
    }
    // The machine is shared: report the median and the best of interleaved rounds.
    fun List<Double>.median() = sorted()[size / 2]
    println("throughput: $N text messages of $SIZE bytes from !blast, $ROUNDS interleaved rounds (msg/s)")
    println("  %-20s %10s %10s   %s".format("receiver", "median", "best", "all rounds"))
    for ((name, r) in rates) {
        println("  %-20s %10.0f %10.0f   %s".format(name, r.median(), r.max(), r.joinToString { "%.0f".format(it) }))
    }
    val ok = rates.getValue("okhttp")
    for (name in listOf("wstether (listener)", "wstether (Flow)")) {
        val r = rates.getValue(name)
        println("ratio %-20s / okhttp: median %.2f×, best %.2f×".format(name, r.median() / ok.median(), r.max() / ok.max()))
    }

    http.dispatcher.executorService.shutdown()
    http.connectionPool.evictAll()
    daemon.outputStream.close() // the daemon exits when its stdin closes
    daemon.waitFor(5, TimeUnit.SECONDS)
}
