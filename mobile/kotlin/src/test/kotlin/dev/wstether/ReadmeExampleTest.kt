package dev.wstether

import java.io.BufferedReader
import java.io.ByteArrayOutputStream
import java.io.File
import java.io.InputStreamReader
import java.io.PrintStream
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout

/**
 * The README's example runs unchanged (but for its URL) against a plain python-websockets echo
 * server, which selects no subprotocol (issue 12, item 9). The example is compiled from
 * `readme/ReadmeExample.kt`; this test checks that file is the README's block verbatim.
 */
@Timeout(60)
class ReadmeExampleTest {
    private val repo = File(System.getProperty("user.dir"), "../..").canonicalFile
    private val exampleFile = File(repo, "mobile/kotlin/src/test/kotlin/dev/wstether/readme/ReadmeExample.kt")

    private fun readmeBlock(): String {
        val readme = File(repo, "mobile/kotlin/README.md").readText()
        val blocks = Regex("```kotlin\n(.*?)```", RegexOption.DOT_MATCHES_ALL).findAll(readme).map { it.groupValues[1] }.toList()
        assertEquals(1, blocks.size, "one Kotlin example in the README")
        return blocks[0]
    }

    @Test
    fun theReadmeExampleIsTheCompiledFileVerbatim() {
        assertEquals("package dev.wstether.readme\n\n" + readmeBlock(), exampleFile.readText())
    }

    @Test
    fun theReadmeExampleRunsAgainstAPythonWebsocketsEchoServer() {
        assertTrue("ws://localhost:8765" in readmeBlock())
        val python = ProcessBuilder("bash", File(repo, "tests/echo/python.sh").path)
            .redirectError(ProcessBuilder.Redirect.INHERIT).start()
            .inputStream.bufferedReader().readText().trim()
        val server = ProcessBuilder(python, File(repo, "tests/echo/echo_server.py").path)
            .redirectError(ProcessBuilder.Redirect.INHERIT).start()
        try {
            val url = BufferedReader(InputStreamReader(server.inputStream)).readLine().trim()
            val printed = ByteArrayOutputStream()
            val stdout = System.out
            System.setOut(PrintStream(printed, true))
            try {
                runBlocking { dev.wstether.readme.echo(url) }
            } finally {
                System.setOut(stdout)
            }
            val out = printed.toString()
            print(out)
            assertTrue("got hello" in out, out)
            assertTrue(Regex("""Client\(url=ws://127\.0\.0\.1:\d+/, state=CLOSED\), 0 unsent""").containsMatchIn(out), out)
        } finally {
            server.outputStream.close() // the server exits when its stdin closes
            server.waitFor()
        }
    }
}
