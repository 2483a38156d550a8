package dev.wstether.readme

import dev.wstether.*
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout

fun freshToken(afterUnauthorized: Boolean): String = "my-token"   // your token service

suspend fun echo(url: String) {
    val options = ClientOptions(
        heartbeat = Heartbeat(interval = 20.seconds, timeout = 10.seconds),
        auth = AuthProvider { req -> mapOf("Authorization" to "Bearer ${freshToken(req.afterUnauthorized)}") },
    )
    Client(url, options).use { client ->       // AutoCloseable
        val echoed = CompletableDeferred<String?>()
        client.addListener { event ->
            when (event) {
                is Event.Message -> echoed.complete(event.text)
                is Event.Reconnecting -> println("retry in ${event.delay}: ${event.cause}")
                is Event.Failed -> println("gave up: ${event.reason}; ${event.unsent.size} unsent")
                else -> {}
            }
        }
        client.connect()
        client.sendText("hello")          // QUEUED until open, then sent in order
        println("got ${withTimeout(10.seconds) { echoed.await() }}")
        val unsent: List<Message> = client.close(1000, "bye")   // every accepted message never written
        println("$client, ${unsent.size} unsent")
    }
}

fun main() = runBlocking { echo("ws://localhost:8765") }
