import Hummingbird
import RegioCore
import RegioDB
import RegioHTTP

/// The dashboard: server-rendered pages for people, signed in with a session cookie, beside the
/// bearer-token API under `/v1`. Pages call the API's own handlers and stores, so a page can show
/// only what the same person's token could fetch.
struct Dashboard: Sendable {
    let catalog: [ReportDefinition]
    let runner: ReportRunner
    /// Reads reports and registry names (the reporting connection).
    let database: Database
    /// Accounts and sessions (the accounts connection).
    let accounts: AccountStore
    let credentials: CredentialStore
    let thresholds: ThresholdsController
    let lookup: LookupController
    let steward: StewardController
    let procurement: ProcurementController
    let rateLimit: RateLimit?
    let overTLS: Bool

    func addRoutes(to router: Router<RegioRequestContext>) {
        router.get("assets/regio.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=3600"],
                     body: .init(byteBuffer: ByteBuffer(string: Layout.stylesheet)))
        }
        // The session first, so that an error page still shows the person's navigation.
        var pages = router.group().add(middleware: WebSessionMiddleware(accounts: accounts)).add(middleware: PageErrorMiddleware())
        if let rateLimit { pages = pages.add(middleware: RateLimitMiddleware(rateLimit)) }
        let reports = ReportPages(catalog: catalog, runner: runner, database: database)
        SignInController(accounts: accounts, throttle: SignInThrottle(), overTLS: overTLS).addRoutes(to: pages)
        HomePages(reports: reports, accounts: accounts, credentials: credentials, steward: steward, procurement: procurement)
            .addRoutes(to: pages)
        reports.addRoutes(to: pages)
        HospitalPages(reports: reports, database: database, lookup: lookup, audit: accounts.database).addRoutes(to: pages)
        StewardPages(steward: steward, procurement: procurement).addRoutes(to: pages)
        AdminPages(accounts: accounts, credentials: credentials, thresholds: thresholds).addRoutes(to: pages)
    }
}
