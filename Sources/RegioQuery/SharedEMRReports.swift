import RegioCore

/// The shared EMR's reports: duplicate exams and the patient index (docs/shared-emr.md).
extension ReportCatalog {
    static let duplicateExams = ReportDefinition(
        id: "duplicate-exams",
        titleZh: "重复检查检验",
        titleEn: "Duplicate exams",
        description: "Per facility (or county, city, tier), calendar month of the exam (China time) and category: exams, "
            + "exams with a regional code (their own, or their local code's mapping), and repeats — an exam of a person "
            + "with the same regional code (and body site, for imaging) performed at a different facility within the "
            + "code's recognition window (互认有效期: the code's own, else its category's default — lab 7 days, imaging 30, "
            + "pathology 90, others 14) after an earlier result there; a result W days old still counts, W + 1 does not. "
            + "Repeat rate = repeats ÷ exams with a regional code × 100; avoidable cost = Σ price of the repeats. "
            + "Figures follow the patient index: when a link changes, they are derived again.",
        roles: [.facility, .bureau, .steward, .admin],
        parameters: levelled,
        columns: unitColumns + [
            ReportColumn("category", .text, zh: "类别", "LAB, IMAGING, PATHOLOGY, ECG, ENDOSCOPY or OTHER, as the facility sent it."),
            ReportColumn("exams", .integer, unit: "exams", zh: "检查检验数", "Exam reports performed in the month."),
            ReportColumn("coded_exams", .integer, unit: "exams", zh: "有区域编码数",
                         "Of those, exams with a regional code: the ones a repeat can be recognised for."),
            ReportColumn("repeats", .integer, unit: "exams", zh: "重复数",
                         "Exams repeating an earlier result at another facility within its window."),
            ReportColumn("repeat_rate", .decimal, unit: "%", zh: "重复率", builtOn: ["repeats", "coded_exams"],
                         "repeats ÷ coded_exams × 100; empty without coded exams."),
            ReportColumn("avoidable_cost", .decimal, unit: "yuan", zh: "可避免费用", "Σ price of the repeats."),
        ]
    )

    static let duplicateExamPairs = ReportDefinition(
        id: "duplicate-exam-pairs",
        titleZh: "重复检查检验明细",
        titleEn: "Duplicate exams: the pairs",
        description: "Each repeat counted by duplicate-exams beside the earlier result it repeats: for stewards checking "
            + "the figures and the code mapping. Patient-level: stewards only. At most 5,000 rows, newest first.",
        roles: [.steward],
        parameters: [
            ReportParameter("facility", .facility, "Only repeats performed at this facility."),
            ReportParameter("from", .month, "First month YYYY-MM (default: 11 months before `to`)."),
            ReportParameter("to", .month, "Last month YYYY-MM (default: the current month)."),
        ],
        columns: [
            ReportColumn("facility_code", .text, zh: "机构代码", "Where the repeat was performed."),
            ReportColumn("report_id", .text, zh: "报告号", "The repeat's report id at that facility."),
            ReportColumn("performed_at", .text, zh: "检查时间", "When the repeat was performed, China time."),
            ReportColumn("regional_code", .text, zh: "区域编码", "The regional exam code both share."),
            ReportColumn("exam_name", .text, zh: "项目名称", "The code's name in the regional catalogue."),
            ReportColumn("category", .text, zh: "类别", "The exam's category."),
            ReportColumn("price", .decimal, unit: "yuan", zh: "费用", "The repeat's price: what it added to avoidable cost."),
            ReportColumn("earlier_facility_code", .text, zh: "前次机构", "Where the earlier result is."),
            ReportColumn("earlier_report_id", .text, zh: "前次报告号", "Its report id there."),
            ReportColumn("earlier_performed_at", .text, zh: "前次检查时间", "When it was performed, China time."),
            ReportColumn("days_after", .integer, unit: "days", zh: "间隔天数", "Calendar days between the two, China time."),
            ReportColumn("window_days", .integer, unit: "days", zh: "互认有效期", "The code's recognition window."),
            ReportColumn("person_id", .integer, zh: "患者主索引号", "The person in the regional patient index."),
        ]
    )

    static let patientIndex = ReportDefinition(
        id: "patient-index",
        titleZh: "患者主索引概况",
        titleEn: "Patient index",
        description: "The regional patient index: persons, facility patient records, persons seen at two or more "
            + "facilities and their share, records by how their current link was made (national ID number, "
            + "probabilistic score, a steward's decision, or the first record of a new person), the open review queue "
            + "(size, median and oldest age in days) and loaded batches waiting to be linked.",
        roles: bureauRoles,
        parameters: [],
        columns: [
            ReportColumn("persons", .integer, unit: "persons", zh: "患者数", personCount: true, "Persons holding at least one record."),
            ReportColumn("records", .integer, unit: "records", zh: "机构患者记录数", "Facility patient records linked to a person."),
            ReportColumn("shared_persons", .integer, unit: "persons", zh: "跨机构患者数", personCount: true,
                         "Persons with records at two or more facilities."),
            ReportColumn("shared_share", .decimal, unit: "%", zh: "跨机构患者占比", builtOn: ["shared_persons", "persons"],
                         "shared_persons ÷ persons × 100."),
            ReportColumn("by_id", .integer, unit: "records", zh: "身份证号关联", "Records linked by national ID number."),
            ReportColumn("probabilistic", .integer, unit: "records", zh: "概率匹配关联", "Records linked by probabilistic score."),
            ReportColumn("by_steward", .integer, unit: "records", zh: "人工关联", "Records placed by a steward's decision."),
            ReportColumn("first_records", .integer, unit: "records", zh: "新建索引", "Records that like no one began a person."),
            ReportColumn("open_reviews", .integer, unit: "reviews", zh: "待审核数", "Links waiting for a steward."),
            ReportColumn("review_median_days", .integer, unit: "days", zh: "待审核中位天数", "Median age of the open reviews."),
            ReportColumn("review_oldest_days", .integer, unit: "days", zh: "最久待审核天数", "Age of the oldest open review."),
            ReportColumn("batches_to_link", .integer, unit: "batches", zh: "待关联批次", "Loaded batches whose records are not linked yet."),
        ]
    )
}
