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
        descriptionZh: "按机构（或区县、市、级别）、检查月份（北京时间）和类别统计：检查检验数、有区域编码的检查检验数"
            + "（自带区域编码，或由其本地编码映射得到），以及重复数——同一患者已在一家机构有结果后，在该编码的互认有效期内"
            + "（编码自身的有效期，否则为其类别的默认值：检验 7 天、影像 30 天、病理 90 天、其他 14 天）于另一家机构"
            + "进行的相同区域编码（影像还须部位相同）的检查检验；结果已过 W 天仍计入，W + 1 天则不计。"
            + "重复率 = 重复数 ÷ 有区域编码数 × 100；可避免费用 = Σ 重复项目的费用。数字随患者主索引而定："
            + "关联变更时重新计算。",
        roles: [.facility, .bureau, .steward, .admin],
        parameters: levelled,
        columns: unitColumns + [
            ReportColumn("category", .text, zh: "类别", en: "Category",
                         "LAB, IMAGING, PATHOLOGY, ECG, ENDOSCOPY or OTHER, as the facility sent it.",
                         zh: "LAB（检验）、IMAGING（影像）、PATHOLOGY（病理）、ECG（心电）、ENDOSCOPY（内镜）或 OTHER（其他），"
                            + "以机构上报为准。"),
            ReportColumn("exams", .integer, unit: "exams", zh: "检查检验数", en: "Exams",
                         "Exam reports performed in the month.", zh: "当月完成的检查检验报告数。"),
            ReportColumn("coded_exams", .integer, unit: "exams", zh: "有区域编码数", en: "Exams with a regional code",
                         "Of those, exams with a regional code: the ones a repeat can be recognised for.",
                         zh: "其中有区域编码的检查检验，即能够识别重复的部分。"),
            ReportColumn("repeats", .integer, unit: "exams", zh: "重复数", en: "Repeats",
                         "Exams repeating an earlier result at another facility within its window.",
                         zh: "在有效期内重复另一机构较早结果的检查检验。"),
            ReportColumn("repeat_rate", .decimal, unit: "%", zh: "重复率", en: "Repeat rate", builtOn: ["repeats", "coded_exams"],
                         "repeats ÷ coded_exams × 100; empty without coded exams.",
                         zh: "重复数 ÷ 有区域编码数 × 100；无有区域编码的检查检验时为空。"),
            ReportColumn("avoidable_cost", .decimal, unit: "yuan", zh: "可避免费用", en: "Avoidable cost",
                         "Σ price of the repeats.", zh: "Σ 重复项目的费用。"),
        ]
    )

    static let duplicateExamPairs = ReportDefinition(
        id: "duplicate-exam-pairs",
        titleZh: "重复检查检验明细",
        titleEn: "Duplicate exams: the pairs",
        description: "Each repeat counted by duplicate-exams beside the earlier result it repeats: for stewards checking "
            + "the figures and the code mapping. Patient-level: stewards only. At most 5,000 rows, newest first.",
        descriptionZh: "duplicate-exams 计入的每一项重复及其所重复的较早结果，并列显示：供数据管理员核对数字和编码映射。"
            + "含患者层面数据：仅限数据管理员。最多 5,000 行，最新的在前。",
        roles: [.steward],
        parameters: [
            ReportParameter("facility", .facility, zh: "机构", en: "Facility",
                            "Only repeats performed at this facility.", zh: "仅显示在该机构进行的重复。"),
        ] + months,
        columns: [
            ReportColumn("facility_code", .text, zh: "机构代码", en: "Facility code",
                         "Where the repeat was performed.", zh: "进行重复检查检验的机构。"),
            ReportColumn("report_id", .text, zh: "报告号", en: "Report ID",
                         "The repeat's report id at that facility.", zh: "重复项目在该机构的报告号。"),
            ReportColumn("performed_at", .text, zh: "检查时间", en: "Performed at",
                         "When the repeat was performed, China time.", zh: "重复项目的检查时间，北京时间。"),
            ReportColumn("regional_code", .text, zh: "区域编码", en: "Regional code",
                         "The regional exam code both share.", zh: "两者共同的区域检查检验编码。"),
            ReportColumn("exam_name", .text, zh: "项目名称", en: "Exam name",
                         "The code's name in the regional catalogue.", zh: "该编码在区域目录中的名称。"),
            ReportColumn("category", .text, zh: "类别", en: "Category", "The exam's category.", zh: "检查检验的类别。"),
            ReportColumn("price", .decimal, unit: "yuan", zh: "费用", en: "Price",
                         "The repeat's price: what it added to avoidable cost.", zh: "重复项目的费用，即其计入可避免费用的金额。"),
            ReportColumn("earlier_facility_code", .text, zh: "前次机构", en: "Earlier facility",
                         "Where the earlier result is.", zh: "前次结果所在的机构。"),
            ReportColumn("earlier_report_id", .text, zh: "前次报告号", en: "Earlier report ID",
                         "Its report id there.", zh: "前次结果在该机构的报告号。"),
            ReportColumn("earlier_performed_at", .text, zh: "前次检查时间", en: "Earlier performed at",
                         "When it was performed, China time.", zh: "前次的检查时间，北京时间。"),
            ReportColumn("days_after", .integer, unit: "days", zh: "间隔天数", en: "Days after",
                         "Calendar days between the two, China time.", zh: "两次之间相隔的自然日数，北京时间。"),
            ReportColumn("window_days", .integer, unit: "days", zh: "互认有效期", en: "Recognition window",
                         "The code's recognition window.", zh: "该编码的互认有效期。"),
            ReportColumn("person_id", .integer, zh: "患者主索引号", en: "Person ID",
                         "The person in the regional patient index.", zh: "区域患者主索引中的患者。"),
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
        descriptionZh: "区域患者主索引：患者数、机构患者记录数、在两家及以上机构就诊的患者数及其占比，按当前关联方式分类的记录数"
            + "（居民身份证号、概率匹配评分、数据管理员的人工决定，或新患者的首条记录），待审核队列（数量、已等待天数的中位数"
            + "和最大值）以及等待关联的已入库批次。",
        roles: bureauRoles,
        parameters: [],
        columns: [
            ReportColumn("persons", .integer, unit: "persons", zh: "患者数", en: "Persons", personCount: true,
                         "Persons holding at least one record.", zh: "至少有一条记录的患者。"),
            ReportColumn("records", .integer, unit: "records", zh: "机构患者记录数", en: "Records",
                         "Facility patient records linked to a person.", zh: "已关联到患者的机构患者记录。"),
            ReportColumn("shared_persons", .integer, unit: "persons", zh: "跨机构患者数", en: "Persons at 2+ facilities",
                         personCount: true,
                         "Persons with records at two or more facilities.", zh: "在两家及以上机构有记录的患者。"),
            ReportColumn("shared_share", .decimal, unit: "%", zh: "跨机构患者占比", en: "Share at 2+ facilities",
                         builtOn: ["shared_persons", "persons"],
                         "shared_persons ÷ persons × 100.", zh: "跨机构患者数 ÷ 患者数 × 100。"),
            ReportColumn("by_id", .integer, unit: "records", zh: "身份证号关联", en: "Linked by ID number",
                         "Records linked by national ID number.", zh: "按居民身份证号关联的记录。"),
            ReportColumn("probabilistic", .integer, unit: "records", zh: "概率匹配关联", en: "Linked by score",
                         "Records linked by probabilistic score.", zh: "按概率匹配评分关联的记录。"),
            ReportColumn("by_steward", .integer, unit: "records", zh: "人工关联", en: "Linked by steward",
                         "Records placed by a steward's decision.", zh: "由数据管理员人工决定归属的记录。"),
            ReportColumn("first_records", .integer, unit: "records", zh: "新建索引", en: "New persons",
                         "Records that like no one began a person.", zh: "与任何已有患者都不匹配、因而新建患者的记录。"),
            ReportColumn("open_reviews", .integer, unit: "reviews", zh: "待审核数", en: "Open reviews",
                         "Links waiting for a steward.", zh: "等待数据管理员审核的关联。"),
            ReportColumn("review_median_days", .integer, unit: "days", zh: "待审核中位天数", en: "Median review age",
                         "Median age of the open reviews.", zh: "待审核项已等待天数的中位数。"),
            ReportColumn("review_oldest_days", .integer, unit: "days", zh: "最久待审核天数", en: "Oldest review age",
                         "Age of the oldest open review.", zh: "最久的待审核项已等待的天数。"),
            ReportColumn("batches_to_link", .integer, unit: "batches", zh: "待关联批次", en: "Batches to link",
                         "Loaded batches whose records are not linked yet.", zh: "记录尚未关联的已入库批次。"),
        ]
    )
}
