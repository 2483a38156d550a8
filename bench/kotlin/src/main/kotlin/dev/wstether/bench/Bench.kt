package dev.wstether.bench

import dev.wstether.Client
import dev.wstether.ClientOptions
import dev.wstether.Event
import java.io.BufferedReader
import java.io.File
import java.io.InputStreamReader
import java.lang.management.ManagementFactory
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

/*
 * The Kotlin layer (listener and Flow) against OkHttp's WebSocket, pinned (bench/README.md).
 *
 * A JVM cannot pin its own threads, so this process must start on the client CPU
 * (`taskset -c 1 java ...`, as run.sh does): every thread it ever starts (JIT, GC, the event
 * threads, the core's runtime, OkHttp's readers) stays there. The testd servers are started under
 * `taskset` on their CPUs, and every thread's affinity is read back from /proc and checked.
 *
 *   receive: `!blast N SIZE` at 64 B and 64 KiB; interleaved rounds of >= --round-secs, N
 *            calibrated per client, after --warmup-secs of warm-up (C2 keeps compiling JNA's
 *            struct code for about ten seconds);
 *   rtt:     64-byte echo round trips against a second server on the client's own CPU;
 *   idle:    N idle open clients in a fresh JVM per library: RSS and Java heap growth.
 *
 * `--soak NAME [--soak-size 64] [--soak-secs 30]` runs one receiver ("wstether listener",
 * "wstether Flow", "okhttp") at one size over and over instead, for `perf` to watch.
 */

private const val LISTENER = "wstether listener"
private const val FLOW = "wstether Flow"
private const val OKHTTP = "okhttp"
private val SIZES = listOf(64, 64 * 1024)
private const val DEADLINE_S = 120L

private class Args(private val argv: Array<String>) {
    fun flag(name: String) = name in argv
    fun value(name: String): String? = argv.indexOf(name).takeIf { it >= 0 && it + 1 < argv.size }?.let { argv[it + 1] }
    fun number(name: String, default: Double) = value(name)?.toDouble() ?: default
}

// ------------------------------------------------------------------ CPUs and servers

private class Affinity(val threads: Int, val cpus: List<String>)

/** Threads of [pid] and the distinct CPU lists they may run on, from /proc. */
private fun threadAffinity(pid: Long): Affinity {
    val lists = sortedSetOf<String>()
    var threads = 0
    File("/proc/$pid/task").listFiles()?.forEach { task ->
        val line = runCatching { File(task, "status").readLines() }.getOrNull()
            ?.firstOrNull { it.startsWith("Cpus_allowed_list:") } ?: return@forEach
        lists += line.substringAfter(':').trim()
        threads++
    }
    return Affinity(threads, lists.toList())
}

private fun affinityRecord(process: String, pid: Long, a: Affinity, expected: Int?): Map<String, Any?> {
    val rec = linkedMapOf<String, Any?>("process" to process, "pid" to pid, "threads" to a.threads, "cpus" to a.cpus)
    if (expected != null) {
        rec["expected"] = expected.toString()
        rec["ok"] = a.threads > 0 && a.cpus == listOf(expected.toString())
    }
    return rec
}

/** The most threads this process had, sampled while clients were open. */
private object Sampled {
    var threads = 0
    val cpus = sortedSetOf<String>()
    fun sample() {
        val a = threadAffinity(ProcessHandle.current().pid())
        threads = maxOf(threads, a.threads)
        cpus += a.cpus
    }
}

/** User + system CPU seconds of a process (all threads), from /proc (USER_HZ = 100). */
private fun cpuSecs(pid: Long): Double {
    val rest = File("/proc/$pid/stat").readText().substringAfterLast(')').trim().split(Regex("\\s+"))
    return (rest[11].toLong() + rest[12].toLong()) / 100.0
}

private fun rssKib(): Double =
    File("/proc/self/status").readLines().first { it.startsWith("VmRSS:") }.split(Regex("\\s+"))[1].toDouble()

private class Server(testd: String, val cpu: Int?) {
    val process: Process = ProcessBuilder(if (cpu == null) listOf(testd) else listOf("taskset", "-c", "$cpu", testd))
        .redirectError(ProcessBuilder.Redirect.INHERIT).start()
    val url: String

    init {
        val line = BufferedReader(InputStreamReader(process.inputStream)).readLine() ?: error("wstether-testd did not start")
        val port = Regex("\\d+").find(line)!!.value.toInt()
        val res = HttpClient.newHttpClient().send(
            HttpRequest.newBuilder(URI("http://127.0.0.1:$port/server/start")).GET().build(),
            HttpResponse.BodyHandlers.ofString(),
        )
        check(res.statusCode() == 200) { "server/start: ${res.body()}" }
        url = Regex("\"url\":\"([^\"]+)\"").find(res.body())!!.groupValues[1]
    }

    fun stop() {
        process.outputStream.close() // the daemon exits when its stdin closes
        process.waitFor(5, TimeUnit.SECONDS)
    }
}

// ------------------------------------------------------------------ clients

/** Counts blast messages of one size and opens the latch at `!blast-done`; cheap per message. */
private class Tally(val size: Int) {
    var count = 0
    var bad = 0
    var first = ""
    val done = CountDownLatch(1)

    fun onText(text: String) {
        if (text == "!blast-done") {
            done.countDown()
            return
        }
        if (count == 0) first = text
        if (text.length != size) bad++
        count++
    }

    fun rate(name: String, n: Int, nanos: Long): Double {
        check(count == n && bad == 0 && first.startsWith("0:")) { "$name: got $count of $n messages of $size B, $bad malformed" }
        return n / (nanos / 1e9)
    }
}

private val fastOptions = ClientOptions(heartbeat = null, handshakeBudget = null)

/** wstether through a [dev.wstether.ClientListener]. */
private fun wstetherListener(url: String, n: Int, size: Int): Double {
    val tally = Tally(size)
    val opened = CountDownLatch(1)
    Client(url, fastOptions).use { client ->
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
        client.sendText("!blast $n $size")
        check(tally.done.await(DEADLINE_S, TimeUnit.SECONDS)) { "wstether: blast not done" }
        val nanos = System.nanoTime() - t0
        Sampled.sample()
        return tally.rate(LISTENER, n, nanos)
    }
}

/** wstether through its `Flow<Event>`, collected in a coroutine. */
private fun wstetherFlow(url: String, n: Int, size: Int): Double {
    val tally = Tally(size)
    Client(url, fastOptions).use { client ->
        val flow = client.events
        client.connect()
        return runBlocking {
            var t0 = 0L
            flow.first { e ->
                when (e) {
                    is Event.Open -> { t0 = System.nanoTime(); client.sendText("!blast $n $size") }
                    is Event.Message -> e.text?.let(tally::onText)
                    else -> {}
                }
                tally.done.count == 0L
            }
            val nanos = System.nanoTime() - t0
            Sampled.sample()
            tally.rate(FLOW, n, nanos)
        }
    }
}

/** OkHttp's WebSocket, the usual choice on Android. */
private fun okhttp(http: OkHttpClient, url: String, n: Int, size: Int): Double {
    val tally = Tally(size)
    val opened = CountDownLatch(1)
    val ws = http.newWebSocket(Request.Builder().url(url).build(), object : WebSocketListener() {
        override fun onOpen(webSocket: WebSocket, response: Response) = opened.countDown()
        override fun onMessage(webSocket: WebSocket, text: String) = tally.onText(text)
    })
    check(opened.await(10, TimeUnit.SECONDS)) { "okhttp did not open" }
    val t0 = System.nanoTime()
    ws.send("!blast $n $size")
    check(tally.done.await(DEADLINE_S, TimeUnit.SECONDS)) { "okhttp: blast not done" }
    val nanos = System.nanoTime() - t0
    Sampled.sample()
    ws.close(1000, "bye")
    return tally.rate(OKHTTP, n, nanos)
}

/** Sequential 64-byte echoes: each answer, seen on the receiving thread, sends the next. */
private class Echoes(val n: Int) {
    val times = DoubleArray(n)
    var i = 0
    var sentAt = 0L
    val done = CountDownLatch(1)
    val payload = "r".repeat(64)

    /** Records one echo; returns whether to send another. */
    fun answered(): Boolean {
        times[i++] = (System.nanoTime() - sentAt) / 1e3
        if (i == n) {
            done.countDown()
            return false
        }
        sentAt = System.nanoTime()
        return true
    }

    fun percentiles(): Pair<Double, Double> {
        check(done.await(DEADLINE_S, TimeUnit.SECONDS)) { "echoes did not finish" }
        times.sort()
        return times[(n - 1) / 2] to times[((n - 1) * 0.99).toInt()]
    }
}

private fun wstetherEchoes(url: String, n: Int): Pair<Double, Double> {
    val echoes = Echoes(n)
    val opened = CountDownLatch(1)
    Client(url, fastOptions).use { client ->
        client.addListener { e ->
            when (e) {
                is Event.Open -> opened.countDown()
                is Event.Message -> if (echoes.answered()) client.sendText(echoes.payload)
                else -> {}
            }
        }
        client.connect()
        check(opened.await(10, TimeUnit.SECONDS)) { "wstether did not open" }
        echoes.sentAt = System.nanoTime()
        client.sendText(echoes.payload)
        val p = echoes.percentiles()
        Sampled.sample()
        return p
    }
}

private fun okhttpEchoes(http: OkHttpClient, url: String, n: Int): Pair<Double, Double> {
    val echoes = Echoes(n)
    val opened = CountDownLatch(1)
    val ws = http.newWebSocket(Request.Builder().url(url).build(), object : WebSocketListener() {
        override fun onOpen(webSocket: WebSocket, response: Response) = opened.countDown()
        override fun onMessage(webSocket: WebSocket, text: String) {
            if (echoes.answered()) webSocket.send(echoes.payload)
        }
    })
    check(opened.await(10, TimeUnit.SECONDS)) { "okhttp did not open" }
    echoes.sentAt = System.nanoTime()
    ws.send(echoes.payload)
    val p = echoes.percentiles()
    Sampled.sample()
    ws.close(1000, "bye")
    return p
}

// ------------------------------------------------------------------ idle clients

/** Fresh JVM: one client opened and closed first, then [n] idle clients; prints KiB per client. */
private fun idleChild(kind: String, n: Int, url: String) {
    // Idle clients keep their defaults (heartbeat on), except the handshake budget, which would
    // pace 1,000 opens to 50 per second. OkHttp runs at most 64 calls at once by default, and an
    // open WebSocket is a running call: raise the limits as an app with many sockets must.
    val http = OkHttpClient.Builder().build().also {
        it.dispatcher.maxRequests = 2 * n + 16
        it.dispatcher.maxRequestsPerHost = 2 * n + 16
    }
    val keep = ArrayList<Any>()
    fun openAll(count: Int): List<Any> {
        val opened = CountDownLatch(count)
        val out = ArrayList<Any>()
        repeat(count) {
            if (kind == LISTENER) {
                val c = Client(url, ClientOptions(handshakeBudget = null))
                c.addListener { e -> if (e is Event.Open) opened.countDown() }
                c.connect()
                out += c
            } else {
                out += http.newWebSocket(Request.Builder().url(url).build(), object : WebSocketListener() {
                    override fun onOpen(webSocket: WebSocket, response: Response) = opened.countDown()
                })
            }
        }
        check(opened.await(DEADLINE_S, TimeUnit.SECONDS)) { "$kind: idle clients did not all open" }
        return out
    }
    openAll(1).forEach { if (it is Client) it.close() else (it as WebSocket).close(1000, "") }
    // This JVM's heap is fixed and pre-touched (-Xms = -Xmx, AlwaysPreTouch): RSS growth is then
    // native memory only (thread stacks, the core's allocations), and the Java side is the live
    // heap after full collections.
    // The live heap is read from each heap pool's usage after its last collection: the used
    // figure read a moment later also counts the fresh allocation buffers (TLABs) that threads
    // take from eden after a collection, megabytes that vary from run to run (adaptive TLAB
    // sizes after the opening burst) and that held most of the figure once read that way.
    val pools = ManagementFactory.getMemoryPoolMXBeans().filter { it.type == java.lang.management.MemoryType.HEAP }
    fun settledHeap(): Long {
        repeat(3) { System.gc(); Thread.sleep(50) }
        System.gc()
        return pools.sumOf { it.collectionUsage?.used ?: 0L }
    }
    Thread.sleep(200)
    val heap0 = settledHeap()
    val rss0 = rssKib()
    val nmt = ManagementFactory.getRuntimeMXBean().inputArguments.any { it.startsWith("-XX:NativeMemoryTracking=") }
    if (nmt) nativeMemory("baseline")
    keep.addAll(openAll(n))
    Thread.sleep(200)
    val heap1 = settledHeap()
    val rss1 = rssKib()
    val jvmOwn = if (nmt) jvmOwnGrowthKib(nativeMemory("summary.diff")) else Double.NaN
    val pid = ProcessHandle.current().pid()
    val a = threadAffinity(pid)
    val nativeKib = (rss1 - rss0) / n
    val heapKib = (heap1 - heap0) / 1024.0 / n
    // The same again for n more clients, with the first n still open: the cost of one more idle
    // client once the JVM has compiled the open path and malloc has grown its arenas (one-time
    // costs the first figure divides among the first n).
    keep.addAll(openAll(n))
    Thread.sleep(200)
    val heap2 = settledHeap()
    val rss2 = rssKib()
    val moreNativeKib = (rss2 - rss1) / n
    val moreHeapKib = (heap2 - heap1) / 1024.0 / n
    println(json(mapOf(
        "clients" to n,
        "rss_kib" to nativeKib + heapKib,
        "native_rss_kib" to nativeKib,
        "jvm_own_kib" to jvmOwn / n,
        "heap_kib" to heapKib,
        "more_rss_kib" to moreNativeKib + moreHeapKib,
        "more_native_rss_kib" to moreNativeKib,
        "more_heap_kib" to moreHeapKib,
        "affinity" to affinityRecord("idle child ($kind)", pid, a, null),
    )))
    System.out.flush()
    Runtime.getRuntime().halt(0) // the server sees the connections drop
}

/** Runs a `VM.native_memory` command in this JVM (started with -XX:NativeMemoryTracking=summary). */
private fun nativeMemory(command: String): String {
    val server = ManagementFactory.getPlatformMBeanServer()
    val name = javax.management.ObjectName("com.sun.management:type=DiagnosticCommand")
    return server.invoke(name, "vmNativeMemory", arrayOf<Any>(arrayOf(command)), arrayOf("[Ljava.lang.String;")) as String
}

/**
 * The JVM's own native growth in a `summary.diff`, in KiB: code compiled meanwhile, the JIT
 * compilers' working memory (Compiler, Arena Chunk) and class metadata. C2 compiling JNA's and
 * the bindings' call paths while the clients open takes megabytes (once per process, whatever
 * the number of clients), and they are still held, or held by malloc, when RSS is read.
 */
private fun jvmOwnGrowthKib(diff: String): Double {
    val own = setOf("Code", "Compiler", "Arena Chunk", "Class", "Metaspace", "Symbol")
    return Regex("""-\s+([A-Za-z ]+?) \(reserved=\d+KB(?: [+-]\d+KB)?, committed=\d+KB(?: ([+-]\d+)KB)?\)""")
        .findAll(diff).filter { it.groupValues[1] in own }.sumOf { it.groupValues[2].ifEmpty { "0" }.toDouble() }
}

private fun idleInChild(kind: String, n: Int, url: String, cpu: Int?, nmt: Boolean = false): Pair<Map<String, Any?>, Map<String, Any?>> {
    val java = ProcessHandle.current().info().command().orElse("java")
    val cmd = listOf(java) + ManagementFactory.getRuntimeMXBean().inputArguments +
        listOf("-Xms512m", "-Xmx512m", "-XX:+AlwaysPreTouch") +
        (if (nmt) listOf("-XX:NativeMemoryTracking=summary") else listOf()) +
        listOf("-cp", System.getProperty("java.class.path"), "dev.wstether.bench.BenchKt",
            "--idle-child", kind, "--idle", "$n", "--url", url)
    val p = ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start()
    val out = p.inputStream.bufferedReader().readText()
    check(p.waitFor() == 0) { "idle child $kind failed: $out" }
    val line = out.trim().lines().last()
    fun num(key: String) = Regex("\"$key\":([-0-9.eE]+|null)").find(line)!!.groupValues[1].toDoubleOrNull() ?: Double.NaN
    val threads = num("threads").toInt()
    val cpus = Regex("\"cpus\":\\[([^]]*)]").find(line)!!.groupValues[1].split(',').map { it.trim('"', ' ') }.filter { it.isNotEmpty() }
    val pid = num("pid").toLong()
    val figures = mapOf("clients" to n, "rss_kib" to num("rss_kib"), "native_rss_kib" to num("native_rss_kib"),
        "heap_kib" to num("heap_kib"), "jvm_own_kib" to num("jvm_own_kib"),
        "more_rss_kib" to num("more_rss_kib"), "more_native_rss_kib" to num("more_native_rss_kib"),
        "more_heap_kib" to num("more_heap_kib"))
    return figures to
        affinityRecord("idle child ($kind)", pid, Affinity(threads, cpus), cpu)
}

// ------------------------------------------------------------------ driver

/** Minimal JSON for maps, lists, strings, numbers, booleans and null. */
private fun json(v: Any?): String = when (v) {
    null -> "null"
    is String -> "\"" + v.replace("\\", "\\\\").replace("\"", "\\\"") + "\""
    is Boolean, is Int, is Long -> v.toString()
    is Double -> if (v.isFinite()) v.toString() else "null"
    is Map<*, *> -> v.entries.joinToString(",", "{", "}") { (k, x) -> json(k.toString()) + ":" + json(x) }
    is Iterable<*> -> v.joinToString(",", "[", "]") { json(it) }
    is DoubleArray -> v.toList().let(::json)
    else -> json(v.toString())
}

fun main(argv: Array<String>) {
    val args = Args(argv)
    args.value("--idle-child")?.let { return idleChild(it, args.number("--idle", 1000.0).toInt(), args.value("--url")!!) }
    val quick = args.flag("--quick")
    val pinned = !args.flag("--unpinned")
    val serverCpu = if (pinned) args.number("--server-cpu", 0.0).toInt() else null
    val clientCpu = if (pinned) args.number("--client-cpu", 1.0).toInt() else null
    val rounds = args.number("--rounds", if (quick) 3.0 else 7.0).toInt()
    val roundSecs = args.number("--round-secs", if (quick) 0.1 else 0.6)
    val warmupSecs = args.number("--warmup-secs", if (quick) 1.0 else 12.0)
    val idleN = args.number("--idle", if (quick) 200.0 else 1000.0).toInt()
    val testd = args.value("--testd") ?: System.getenv("WSTETHER_TESTD") ?: error("pass --testd PATH or set WSTETHER_TESTD")
    val me = ProcessHandle.current().pid()
    if (clientCpu != null) {
        check(serverCpu != clientCpu) { "--server-cpu and --client-cpu must differ" }
        val mine = threadAffinity(me)
        if (mine.cpus != listOf(clientCpu.toString())) {
            System.err.println("Bench: this JVM may run on CPUs ${mine.cpus}, not only on $clientCpu: start it with " +
                "`taskset -c $clientCpu java ...` (bench/kotlin/run.sh does), or pass --unpinned")
            kotlin.system.exitProcess(2)
        }
    }
    val far = Server(testd, serverCpu)
    val near = Server(testd, clientCpu)
    val http = OkHttpClient.Builder().build()
    println(if (clientCpu != null) "kotlin bench, pinned: server on CPU $serverCpu, client on CPU $clientCpu; same-core server on CPU $clientCpu"
    else "kotlin bench, UNPINNED (not comparable with pinned figures)")
    println("Java ${System.getProperty("java.version")}; $rounds rounds of >= $roundSecs s per client and size; $idleN idle clients; ${warmupSecs}s warm-up\n")

    val receivers: Map<String, (String, Int, Int) -> Double> = linkedMapOf(
        LISTENER to ::wstetherListener,
        FLOW to ::wstetherFlow,
        OKHTTP to { url, n, size -> okhttp(http, url, n, size) },
    )
    val throughput = linkedMapOf<String, Any?>()
    val rtt = linkedMapOf<String, Any?>()
    val idle = linkedMapOf<String, Any?>()
    val affinity = mutableListOf<Map<String, Any?>>()
    try {
        // --soak NAME SIZE SECS: one receiver at one size, over and over, for a profiler to watch.
        args.value("--soak")?.let { name ->
            val rx = receivers[name] ?: error("--soak: one of ${receivers.keys}")
            val size = args.number("--soak-size", 64.0).toInt()
            val end = System.nanoTime() + (args.number("--soak-secs", 30.0) * 1e9).toLong()
            while (System.nanoTime() < end) {
                println("  soak %-20s %5d B %10.0f msg/s".format(name, size, rx(far.url, if (size == 64) 2_000_000 else 20_000, size)))
            }
            return
        }
        // Warm-up: every path, both sizes, until the JIT has settled.
        val warmEnd = System.nanoTime() + (warmupSecs * 1e9).toLong()
        do {
            for (size in SIZES) for ((_, rx) in receivers) rx(far.url, if (size == 64) 50_000 else 1_000, size)
        } while (System.nanoTime() < warmEnd)

        for (size in SIZES) {
            val counts = receivers.mapValues { (_, rx) ->
                var n = 1000
                var count: Int
                while (true) {
                    val rate = rx(far.url, n, size)
                    if (n / rate >= roundSecs / 10 || n >= 50_000_000) { count = maxOf(1000, (rate * roundSecs * 1.1).toInt()); break }
                    n *= 2
                }
                count
            }
            val rates = receivers.keys.associateWith { mutableListOf<Double>() }
            val serverBusy = receivers.keys.associateWith { mutableListOf<Double>() }
            val clientBusy = receivers.keys.associateWith { mutableListOf<Double>() }
            repeat(rounds) { r ->
                val order = receivers.keys.toList().let { if (r % 2 == 0) it else it.reversed() }
                for (name in order) {
                    val s0 = cpuSecs(far.process.pid()); val c0 = cpuSecs(me); val t0 = System.nanoTime()
                    val rate = receivers.getValue(name)(far.url, counts.getValue(name), size)
                    val wall = (System.nanoTime() - t0) / 1e9
                    val sb = (cpuSecs(far.process.pid()) - s0) / wall; val cb = (cpuSecs(me) - c0) / wall
                    rates.getValue(name) += rate; serverBusy.getValue(name) += sb; clientBusy.getValue(name) += cb
                    println("  %5d B  round %d  %-20s %10.0f msg/s %8.1f MB/s  server %3.0f%% client %3.0f%% busy".format(
                        size, r + 1, name, rate, rate * size / 1e6, sb * 100, cb * 100))
                }
            }
            throughput["$size"] = receivers.keys.associateWith { name ->
                mapOf("count" to counts[name], "msgs_per_s" to rates[name], "server_busy" to serverBusy[name], "client_busy" to clientBusy[name])
            }
        }

        val echoers: Map<String, (String, Int) -> Pair<Double, Double>> = linkedMapOf(
            LISTENER to ::wstetherEchoes,
            OKHTTP to { url, n -> okhttpEchoes(http, url, n) },
        )
        val trips = echoers.mapValues { (_, echo) ->
            val (p50, _) = echo(near.url, 1000)
            (roundSecs * 1e6 / p50).toInt().coerceIn(200, 50_000)
        }
        val p50s = echoers.keys.associateWith { mutableListOf<Double>() }
        val p99s = echoers.keys.associateWith { mutableListOf<Double>() }
        repeat(rounds) { r ->
            val order = echoers.keys.toList().let { if (r % 2 == 0) it else it.reversed() }
            for (name in order) {
                val (p50, p99) = echoers.getValue(name)(near.url, trips.getValue(name))
                p50s.getValue(name) += p50; p99s.getValue(name) += p99
                println("  same-core round trip  round %d  %-20s p50 %7.1f µs  p99 %7.1f µs".format(r + 1, name, p50, p99))
            }
        }
        for (name in echoers.keys) rtt[name] = mapOf("trips" to trips[name], "p50_us" to p50s[name], "p99_us" to p99s[name])

        affinity += affinityRecord("client (most threads seen)", me, Affinity(Sampled.threads, Sampled.cpus.toList()), clientCpu)
        affinity += affinityRecord("server", far.process.pid(), threadAffinity(far.process.pid()), serverCpu)
        affinity += affinityRecord("same-core server", near.process.pid(), threadAffinity(near.process.pid()), clientCpu)
        for (kind in listOf(LISTENER, OKHTTP)) {
            val (figures, rec) = idleInChild(kind, idleN, far.url, clientCpu)
            idle[kind] = figures
            affinity += rec
            println("  idle  %-20s %7.1f KiB per client: %6.1f KiB native RSS + %6.1f KiB live Java heap".format(
                kind, figures["rss_kib"], figures["native_rss_kib"], figures["heap_kib"]))
            println("  idle  %-20s %7.1f KiB per client for $idleN more: %6.1f KiB native RSS + %6.1f KiB live Java heap".format(
                kind, figures["more_rss_kib"], figures["more_native_rss_kib"], figures["more_heap_kib"]))
        }
        // Where wstether's native growth goes, in one more child with native memory tracking
        // (not the figure of record: tracking changes what it tracks; OkHttp's 1,000 reader
        // threads grow by about half under it).
        val (nmt, rec) = idleInChild(LISTENER, idleN, far.url, clientCpu, nmt = true)
        affinity += rec
        idle[LISTENER] = idle.getValue(LISTENER) as Map<*, *> + mapOf(
            "nmt_native_rss_kib" to nmt["native_rss_kib"], "nmt_jvm_own_kib" to nmt["jvm_own_kib"])
        println("  idle  %-20s with native memory tracking: %6.1f KiB native RSS, of which %.1f KiB the JVM's own (JIT, code, classes)".format(
            LISTENER, nmt["native_rss_kib"], nmt["jvm_own_kib"]))
    } finally {
        http.dispatcher.executorService.shutdown()
        http.connectionPool.evictAll()
        far.stop()
        near.stop()
    }
    for (a in affinity) {
        println("  affinity  %-32s %4s threads on CPUs %s%s".format(a["process"], a["threads"], (a["cpus"] as List<*>).joinToString(","),
            if (a["ok"] == false) "  NOT CONFINED" else ""))
    }
    val doc = linkedMapOf(
        "layer" to "kotlin",
        "title" to "Kotlin (Java ${System.getProperty("java.version")}): wstether listener and Flow vs OkHttp",
        "peer" to OKHTTP,
        "pinned" to (clientCpu != null),
        "server_cpu" to serverCpu,
        "client_cpu" to clientCpu,
        "quick" to quick,
        "rounds" to rounds,
        "round_secs" to roundSecs,
        "throughput" to throughput,
        "rtt_same_core" to rtt,
        "idle" to idle,
        "affinity" to affinity,
    )
    args.value("--json")?.let { File(it).writeText(json(doc)) }
    if (affinity.any { it["ok"] == false }) {
        System.err.println("a thread was not confined to its CPU: these figures are not pinned")
        kotlin.system.exitProcess(1)
    }
}
