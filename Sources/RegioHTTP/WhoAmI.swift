import Hummingbird
import RegioCore

/// `GET /v1/whoami`: the role and scope of the presented token, so an operator or the upload
/// client can check a token before relying on it.
struct WhoAmI: ResponseEncodable {
    var role: String
    var facility: String?
    var alliance: String?
    var label: String

    init(_ identity: Identity) {
        role = identity.role.rawValue
        facility = identity.facilityCode
        alliance = identity.allianceCode
        label = identity.label
    }
}
