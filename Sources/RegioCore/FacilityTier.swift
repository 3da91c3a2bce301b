/// The three tiers of China's hospital grading (医院等级): primary (一级, community and township
/// health centres), secondary (二级, county hospitals) and tertiary (三级, city and provincial
/// hospitals). Referral direction is derived from the tiers of the two facilities.
public enum FacilityTier: Int, Sendable, Codable, CaseIterable, Comparable {
    case primary = 1
    case secondary = 2
    case tertiary = 3

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Grades within a tier (甲, 乙, 丙, and 特 for tertiary); free text is not accepted.
public enum FacilityGrade: String, Sendable, Codable, CaseIterable {
    case a = "A"         // 甲等
    case b = "B"         // 乙等
    case c = "C"         // 丙等
    case special = "S"   // 特等 (tertiary only)
    case ungraded = "U"  // 未定级
}

/// Facility types as the bureau distinguishes them in its reports.
public enum FacilityType: String, Sendable, Codable, CaseIterable {
    case generalHospital = "general_hospital"
    case tcmHospital = "tcm_hospital"
    case specialtyHospital = "specialty_hospital"
    case maternalChild = "maternal_child"
    case communityCentre = "community_centre"
    case townshipCentre = "township_centre"
    case clinic = "clinic"
}
