import Foundation
import Hummingbird
import RegioCore
import RegioDB
import RegioHTTP

/// The bureau's thresholds over HTTP: `GET /v1/admin/thresholds` and
/// `PUT /v1/admin/thresholds/{kind}/{indicator}` with `{"threshold": 35, "comparator": ">"}`
/// (comparator optional). Reading is for bureau, steward and admin; changing for bureau and admin.
public struct ThresholdsController: Sendable {
    let store: ThresholdStore

    public init(store: ThresholdStore) {
        self.store = store
    }

    public func addRoutes(to group: RouterGroup<RegioRequestContext>) {
        group.get("admin/thresholds", use: list)
        group.put("admin/thresholds/{kind}/{indicator}", use: update)
    }

    struct List: ResponseEncodable {
        var thresholds: [Threshold]
    }

    struct Change: Decodable {
        var threshold: Decimal
        var comparator: String?
    }

    @Sendable func list(_ request: Request, context: RegioRequestContext) async throws -> List {
        _ = try context.caller(in: [.bureau, .steward, .admin])
        return List(thresholds: try await store.all())
    }

    @Sendable func update(_ request: Request, context: RegioRequestContext) async throws -> EditedResponse<Threshold> {
        let caller = try context.caller(in: [.bureau, .admin])
        guard let kind = Threshold.Kind(rawValue: try context.parameters.require("kind")) else {
            throw Problem.notFound("threshold kinds are alert and quality")
        }
        let indicator = try context.parameters.require("indicator")
        let change = try await request.decodeJSON(Change.self, context: context,
                                                  expected: #"{"threshold": number, "comparator": ">" or "<" (optional)}"#)
        do {
            let updated = try await store.set(kind: kind, indicator: indicator, value: change.threshold,
                                              comparator: change.comparator, actor: "\(caller.role.rawValue):\(caller.label)")
            return EditedResponse(status: .ok, response: updated)
        } catch let error as ThresholdStore.Unknown {
            throw Problem.notFound(error.description)
        } catch let error as RegistryError {
            throw Problem.badRequest(error.message)
        }
    }
}

extension Threshold: ResponseEncodable {}
