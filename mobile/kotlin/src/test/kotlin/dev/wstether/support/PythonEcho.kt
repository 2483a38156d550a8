package dev.wstether.support

import java.io.BufferedReader
import java.io.File
import java.io.InputStreamReader

/** tests/echo/echo_server.py: a plain python-websockets echo server (no subprotocol,
 * permessage-deflate offered by default). [url] has no trailing slash. */
class PythonEcho : AutoCloseable {
    private val repo = File(System.getProperty("user.dir")).resolve("../..").canonicalFile
    private val process: Process
    val url: String

    init {
        val python = ProcessBuilder("bash", File(repo, "tests/echo/python.sh").path)
            .redirectError(ProcessBuilder.Redirect.INHERIT).start()
            .inputStream.bufferedReader().readText().trim()
        process = ProcessBuilder(python, File(repo, "tests/echo/echo_server.py").path)
            .redirectError(ProcessBuilder.Redirect.INHERIT).start()
        url = BufferedReader(InputStreamReader(process.inputStream)).readLine().trim().removeSuffix("/")
    }

    override fun close() {
        process.outputStream.close() // the server exits when its stdin closes
        process.waitFor()
    }
}
