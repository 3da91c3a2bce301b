import Foundation
import Logging
import RegioCore
import RegioDB

/// Where the running process is to kill itself, if anywhere (`REGIO_FAULT`).
public struct FaultInjection: Sendable {
    public let point: FaultPoint?

    public static let none = FaultInjection(point: nil)

    public init(point: FaultPoint?) {
        self.point = point
    }

    /// Kills the process at once when `point` is the configured one.
    public func reach(_ point: FaultPoint, logger: Logger) {
        guard point == self.point else { return }
        logger.critical("REGIO_FAULT: killing the process", metadata: ["point": "\(point.rawValue)"])
        kill(getpid(), SIGKILL)
    }
}
