package dev.wstether

import dev.wstether.ffi.FfiAuthRequest
import dev.wstether.ffi.FfiException
import dev.wstether.ffi.FfiHeader
import dev.wstether.ffi.FfiMessage

/** The app's [AuthProvider] as the generated foreign trait; a throw becomes a typed error. */
internal class NativeAuth(private val provider: AuthProvider) : dev.wstether.ffi.AuthProvider {
    override fun headers(request: FfiAuthRequest): List<FfiHeader> =
        try {
            Convert.headers(provider.headers(Convert.authRequest(request)))
        } catch (t: Throwable) {
            // Crosses back into Rust as Err: the core reports Error(AUTH) and retries.
            throw FfiException.Callback("auth provider threw ${t.javaClass.simpleName}: ${t.message}")
        }
}

/** The app's [UrlProvider] as the generated foreign trait; a throw becomes a typed error. */
internal class NativeUrl(private val provider: UrlProvider) : dev.wstether.ffi.UrlProvider {
    override fun url(request: FfiAuthRequest): String =
        try {
            provider.url(Convert.authRequest(request))
        } catch (t: Throwable) {
            throw FfiException.Callback("url provider threw ${t.javaClass.simpleName}: ${t.message}")
        }
}

/** The app's [GreetingProvider] as the generated foreign trait. */
internal class NativeGreeting(private val provider: GreetingProvider) : dev.wstether.ffi.GreetingProvider {
    override fun greeting(): List<FfiMessage> =
        try {
            provider.greeting().map(Convert::messageOut)
        } catch (t: Throwable) {
            throw FfiException.Callback("greeting provider threw ${t.javaClass.simpleName}: ${t.message}")
        }
}
