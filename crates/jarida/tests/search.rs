//! Search, on the test's database (SQLite, or PostgreSQL in the suite's second run): a relevance
//! set of 60 queries (half Arabic) over 200 posts shaped like the newsroom's (50 stories in
//! English and Arabic, and 100 briefings that mention the same subjects in passing), each query
//! with the story that must be in its first five results. It prints recall@5 and MRR and needs
//! 95%. Then the page itself: escaping, empty, overlong and punctuation-only queries, filters,
//! drafts kept out, and the index following edits and deletions.
#![allow(clippy::unwrap_used)] // test helpers: a failed step panics with its cause

mod common;

use std::fmt::Write as _;

use common::TestApp;

/// (slug, English title, English paragraph, Arabic title, Arabic paragraph, tag en, tag ar).
const STORIES: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
    (
        "desalination-plant",
        "Desalination plant halts operations",
        "The only desalination plant in the south stopped pumping after fuel ran out, engineers said.",
        "توقف محطة تحلية المياه عن العمل",
        "توقفت محطة تحلية المياه الوحيدة في الجنوب عن الضخ بعد نفاد الوقود، بحسب المهندسين.",
        "Water",
        "مياه",
    ),
    (
        "field-hospitals",
        "Field hospitals overwhelmed in Rafah",
        "Doctors at three field hospitals in Rafah said they treat patients on the floor.",
        "المستشفيات الميدانية تفيض بالجرحى في رفح",
        "قال أطباء في ثلاثة مستشفيات ميدانية في رفح إنهم يعالجون المرضى على الأرض.",
        "Health",
        "صحة",
    ),
    (
        "fishermen-sea",
        "Fishermen barred from the sea",
        "Fishermen say their boats have not left the harbour for months.",
        "الصيادون ممنوعون من البحر",
        "يقول الصيادون إن قواربهم لم تغادر الميناء منذ أشهر.",
        "Economy",
        "اقتصاد",
    ),
    (
        "olive-harvest",
        "Olive harvest falls by half",
        "Farmers picked half the olives of a normal season, the agriculture ministry said.",
        "موسم قطف الزيتون يتراجع إلى النصف",
        "جنى المزارعون نصف محصول الزيتون في موسم عادي، وفق وزارة الزراعة.",
        "Farming",
        "زراعة",
    ),
    (
        "electricity-cuts",
        "Electricity cuts leave families in the dark",
        "Most homes receive four hours of electricity a day; generators cost more than rent.",
        "انقطاع الكهرباء يترك العائلات في الظلام",
        "تحصل معظم البيوت على أربع ساعات من الكهرباء يوميا، وكلفة المولدات تفوق الإيجار.",
        "Energy",
        "طاقة",
    ),
    (
        "schools-shelters",
        "Schools turned into shelters",
        "Forty schools now house displaced families, and classes have stopped.",
        "المدارس تتحول إلى ملاجئ",
        "تؤوي أربعون مدرسة الآن عائلات نازحة، وتوقفت الدروس.",
        "Education",
        "تعليم",
    ),
    (
        "bakeries-flour",
        "Bakeries close as flour runs out",
        "Queues outside the last open bakeries start before dawn.",
        "المخابز تغلق أبوابها مع نفاد الطحين",
        "تبدأ الطوابير أمام آخر المخابز المفتوحة قبل الفجر.",
        "Food",
        "غذاء",
    ),
    (
        "journalists-killed",
        "Journalists killed covering the war",
        "Press freedom groups counted the journalists killed since October.",
        "مقتل صحفيين أثناء تغطية الحرب",
        "أحصت منظمات حرية الصحافة الصحفيين الذين قتلوا منذ أكتوبر.",
        "Press",
        "صحافة",
    ),
    (
        "sewage-khan-younis",
        "Sewage floods the streets of Khan Younis",
        "Broken pumps sent sewage into the streets of Khan Younis after the storm.",
        "مياه الصرف الصحي تغمر شوارع خان يونس",
        "أدت المضخات المعطلة إلى تدفق مياه الصرف الصحي في شوارع خان يونس بعد العاصفة.",
        "Water",
        "مياه",
    ),
    (
        "solar-panels",
        "Solar panels on the rooftops",
        "Families pooled savings to buy solar panels for their rooftops.",
        "ألواح الطاقة الشمسية على أسطح المنازل",
        "جمعت العائلات مدخراتها لشراء ألواح الطاقة الشمسية لأسطح منازلها.",
        "Energy",
        "طاقة",
    ),
    (
        "vaccination-campaign",
        "Polio vaccination campaign reaches children",
        "Health workers vaccinated children against polio during a pause in fighting.",
        "حملة التطعيم ضد شلل الأطفال تصل إلى الأطفال",
        "طعّم العاملون الصحيون الأطفال ضد شلل الأطفال خلال هدنة.",
        "Health",
        "صحة",
    ),
    (
        "border-crossing",
        "Aid trucks wait at the border crossing",
        "Hundreds of aid trucks waited at the crossing for inspection.",
        "شاحنات المساعدات تنتظر عند المعبر",
        "انتظرت مئات من شاحنات المساعدات عند المعبر لتفتيشها.",
        "Aid",
        "مساعدات",
    ),
    (
        "university-students",
        "University students study by candlelight",
        "Students of the Islamic University sit exams online when the network allows.",
        "طلاب الجامعة يدرسون على ضوء الشموع",
        "يقدم طلاب الجامعة الإسلامية امتحاناتهم عبر الإنترنت حين تسمح الشبكة.",
        "Education",
        "تعليم",
    ),
    (
        "cancer-patients",
        "Cancer patients wait for permits to travel",
        "Cancer patients need permits to reach treatment in Jerusalem.",
        "مرضى السرطان ينتظرون تصاريح السفر",
        "يحتاج مرضى السرطان إلى تصاريح للوصول إلى العلاج في القدس.",
        "Health",
        "صحة",
    ),
    (
        "rubble-removal",
        "Removing the rubble will take years",
        "Engineers estimate forty million tonnes of rubble must be cleared.",
        "إزالة الركام ستستغرق سنوات",
        "يقدر المهندسون أن أربعين مليون طن من الركام يجب إزالتها.",
        "Reconstruction",
        "إعمار",
    ),
    (
        "internet-blackout",
        "Internet blackout cuts off families",
        "A third communications blackout left families unable to call relatives abroad.",
        "انقطاع الإنترنت يعزل العائلات",
        "ترك انقطاع الاتصالات الثالث العائلات عاجزة عن الاتصال بأقاربها في الخارج.",
        "Technology",
        "تقنية",
    ),
    (
        "winter-tents",
        "Winter rain floods the tents",
        "Rain flooded hundreds of tents in Mawasi overnight.",
        "أمطار الشتاء تغرق الخيام",
        "أغرقت الأمطار مئات الخيام في المواصي خلال الليل.",
        "Displacement",
        "نزوح",
    ),
    (
        "orphans-care",
        "Who cares for the orphans",
        "Aunts and grandparents now raise thousands of orphans.",
        "من يرعى الأيتام",
        "تربي العمات والأجداد الآن آلاف الأيتام.",
        "Children",
        "أطفال",
    ),
    (
        "market-prices",
        "Sugar costs ten times more at the market",
        "A kilo of sugar sold for ten times its pre-war price at Deir al-Balah market.",
        "سعر السكر في السوق يتضاعف عشر مرات",
        "بيع كيلو السكر بعشرة أضعاف سعره قبل الحرب في سوق دير البلح.",
        "Economy",
        "اقتصاد",
    ),
    (
        "fuel-shortage",
        "Fuel shortage stops ambulances",
        "Ambulances stood idle for lack of fuel, the Red Crescent said.",
        "نقص الوقود يوقف سيارات الإسعاف",
        "توقفت سيارات الإسعاف عن العمل لنقص الوقود، بحسب الهلال الأحمر.",
        "Health",
        "صحة",
    ),
    (
        "archaeology-site",
        "Ancient monastery damaged",
        "The Byzantine monastery of Saint Hilarion was damaged by shelling.",
        "تضرر دير أثري قديم",
        "تضرر دير القديس هيلاريون البيزنطي جراء القصف.",
        "Heritage",
        "تراث",
    ),
    (
        "football-stadium",
        "Football stadium becomes a camp",
        "The Yarmouk stadium, once home to league matches, now shelters families.",
        "ملعب كرة القدم يصبح مخيما",
        "يؤوي ملعب اليرموك، الذي استضاف مباريات الدوري، عائلات نازحة الآن.",
        "Sport",
        "رياضة",
    ),
    (
        "women-midwives",
        "Midwives deliver babies in tents",
        "Midwives delivered babies in tents without electricity or clean water.",
        "قابلات يولدن الأطفال في الخيام",
        "ساعدت القابلات في ولادة الأطفال داخل خيام بلا كهرباء ولا مياه نظيفة.",
        "Health",
        "صحة",
    ),
    (
        "drought-wells",
        "Wells run dry in the summer heat",
        "Farmers dug deeper wells as the aquifer fell.",
        "الآبار تجف في حر الصيف",
        "حفر المزارعون آبارا أعمق مع انخفاض الخزان الجوفي.",
        "Water",
        "مياه",
    ),
    (
        "library-books",
        "A library rebuilt from donated books",
        "Volunteers collected ten thousand donated books for a new library.",
        "مكتبة تعاد بناؤها من كتب متبرع بها",
        "جمع متطوعون عشرة آلاف كتاب متبرع بها لمكتبة جديدة.",
        "Culture",
        "ثقافة",
    ),
    (
        "mental-health",
        "Children's nightmares and mental health",
        "Psychologists describe nightmares and bedwetting among most children.",
        "كوابيس الأطفال والصحة النفسية",
        "يصف أخصائيون نفسيون الكوابيس والتبول اللاإرادي لدى معظم الأطفال.",
        "Health",
        "صحة",
    ),
    (
        "cash-shortage",
        "Banks run out of cash",
        "Brokers charge a quarter of every withdrawal as banks run out of banknotes.",
        "المصارف تنفد منها السيولة النقدية",
        "يتقاضى الوسطاء ربع كل عملية سحب مع نفاد الأوراق النقدية من المصارف.",
        "Economy",
        "اقتصاد",
    ),
    (
        "poets-festival",
        "A poetry festival in a displacement camp",
        "Young poets read verses about home at a festival in a camp.",
        "مهرجان للشعر في مخيم للنزوح",
        "قرأ شعراء شباب قصائد عن الوطن في مهرجان داخل مخيم.",
        "Culture",
        "ثقافة",
    ),
    (
        "kidney-dialysis",
        "Dialysis patients skip sessions",
        "Kidney patients now receive two dialysis sessions a week instead of three.",
        "مرضى الكلى يفوتون جلسات الغسيل",
        "يتلقى مرضى الكلى الآن جلستي غسيل أسبوعيا بدلا من ثلاث.",
        "Health",
        "صحة",
    ),
    (
        "greenhouses",
        "Greenhouses bulldozed near the fence",
        "Farmers lost greenhouses of tomatoes and cucumbers near the fence.",
        "تجريف الدفيئات الزراعية قرب السياج",
        "فقد المزارعون دفيئات الطماطم والخيار قرب السياج.",
        "Farming",
        "زراعة",
    ),
    (
        "census-population",
        "How many people live in Gaza now",
        "Without a census, agencies disagree on the population by a quarter of a million.",
        "كم عدد سكان غزة الآن",
        "من دون تعداد سكاني، تختلف الوكالات على عدد السكان بربع مليون.",
        "Data",
        "بيانات",
    ),
    (
        "port-construction",
        "A floating pier for aid",
        "The floating pier delivered aid for twenty days before the sea broke it.",
        "رصيف عائم للمساعدات",
        "نقل الرصيف العائم المساعدات عشرين يوما قبل أن يحطمه البحر.",
        "Aid",
        "مساعدات",
    ),
    (
        "disabled-people",
        "People with disabilities left behind",
        "Wheelchairs were lost as families fled north to south.",
        "ذوو الإعاقة يتركون خلف الركب",
        "فقدت الكراسي المتحركة مع فرار العائلات من الشمال إلى الجنوب.",
        "Rights",
        "حقوق",
    ),
    (
        "teachers-salaries",
        "Teachers unpaid for six months",
        "Teachers in government schools have not been paid since spring.",
        "معلمون بلا رواتب منذ ستة أشهر",
        "لم يتقاض معلمو المدارس الحكومية رواتبهم منذ الربيع.",
        "Education",
        "تعليم",
    ),
    (
        "eid-celebration",
        "Eid without new clothes",
        "Parents could not buy new clothes or sweets for Eid.",
        "عيد بلا ملابس جديدة",
        "لم يتمكن الآباء من شراء ملابس جديدة أو حلويات للعيد.",
        "Society",
        "مجتمع",
    ),
    (
        "landmines-unexploded",
        "Unexploded ordnance in the fields",
        "Demining teams found unexploded ordnance in farmland east of Deir al-Balah.",
        "ذخائر غير منفجرة في الحقول",
        "عثرت فرق إزالة الألغام على ذخائر غير منفجرة في أراض زراعية شرق دير البلح.",
        "Safety",
        "سلامة",
    ),
    (
        "mosque-restoration",
        "Restoring the Great Omari Mosque",
        "Craftsmen began restoring the minaret of the Great Omari Mosque.",
        "ترميم المسجد العمري الكبير",
        "بدأ حرفيون ترميم مئذنة المسجد العمري الكبير.",
        "Heritage",
        "تراث",
    ),
    (
        "phone-charging",
        "Queues to charge phones",
        "Shops with solar power charge phones for a shekel each.",
        "طوابير لشحن الهواتف",
        "تشحن المحلات العاملة بالطاقة الشمسية الهواتف مقابل شيكل لكل منها.",
        "Technology",
        "تقنية",
    ),
    (
        "garbage-collection",
        "Garbage piles up by the camps",
        "Municipal trucks cannot reach the landfill, so garbage piles up.",
        "تكدس النفايات قرب المخيمات",
        "لا تستطيع شاحنات البلدية الوصول إلى المكب فتتكدس النفايات.",
        "Environment",
        "بيئة",
    ),
    (
        "dentists-clinic",
        "The last dental clinic in the north",
        "One dentist treats a hundred patients a day with no anaesthetic.",
        "آخر عيادة أسنان في الشمال",
        "يعالج طبيب أسنان واحد مئة مريض يوميا دون تخدير.",
        "Health",
        "صحة",
    ),
    (
        "wedding-tents",
        "Weddings in the tents",
        "Couples marry in small ceremonies among the tents.",
        "أعراس في الخيام",
        "يتزوج العرسان في حفلات صغيرة بين الخيام.",
        "Society",
        "مجتمع",
    ),
    (
        "bicycle-repair",
        "The bicycle repairman of Nuseirat",
        "With cars idle, a repairman fixes forty bicycles a day.",
        "مصلح الدراجات في النصيرات",
        "مع توقف السيارات، يصلح رجل أربعين دراجة يوميا.",
        "Economy",
        "اقتصاد",
    ),
    (
        "salt-sea",
        "Making salt from the sea",
        "Families boil seawater to make salt they can sell.",
        "صناعة الملح من البحر",
        "تغلي العائلات مياه البحر لصناعة ملح يمكنها بيعه.",
        "Economy",
        "اقتصاد",
    ),
    (
        "animals-zoo",
        "Animals starve in the zoo",
        "The keeper of the Rafah zoo feeds the lions with what he can find.",
        "حيوانات حديقة رفح تتضور جوعا",
        "يطعم حارس حديقة حيوانات رفح الأسود بما يستطيع إيجاده.",
        "Environment",
        "بيئة",
    ),
    (
        "prisoners-release",
        "Prisoners released in the exchange",
        "Families waited for prisoners released in the exchange.",
        "الإفراج عن أسرى في صفقة التبادل",
        "انتظرت العائلات الأسرى المفرج عنهم في صفقة التبادل.",
        "Politics",
        "سياسة",
    ),
    (
        "ceasefire-talks",
        "Ceasefire talks in Cairo",
        "Negotiators met in Cairo to discuss a ceasefire.",
        "محادثات وقف إطلاق النار في القاهرة",
        "التقى المفاوضون في القاهرة لبحث وقف إطلاق النار.",
        "Politics",
        "سياسة",
    ),
    (
        "embroidery-tatreez",
        "Embroidery keeps a tradition alive",
        "Women stitch tatreez patterns to sell abroad.",
        "التطريز يحفظ تقليدا حيا",
        "تطرز النساء نقوش التطريز الفلسطيني لبيعها في الخارج.",
        "Culture",
        "ثقافة",
    ),
    (
        "birds-migration",
        "Migrating birds over the wetlands",
        "Storks still stop at the Wadi Gaza wetlands on their way south.",
        "الطيور المهاجرة فوق الأراضي الرطبة",
        "لا تزال طيور اللقلق تتوقف في الأراضي الرطبة بوادي غزة في طريقها جنوبا.",
        "Environment",
        "بيئة",
    ),
    (
        "insulin-diabetes",
        "Insulin needs a fridge",
        "Diabetics keep insulin in clay pots without a fridge.",
        "الإنسولين يحتاج إلى ثلاجة",
        "يحفظ مرضى السكري الإنسولين في أوان فخارية دون ثلاجة.",
        "Health",
        "صحة",
    ),
    (
        "census-2024",
        "The 2024 population figures",
        "The statistics bureau published its 2024 population figures.",
        "أرقام السكان لعام ٢٠٢٤",
        "نشر جهاز الإحصاء أرقام السكان لعام ٢٠٢٤.",
        "Data",
        "بيانات",
    ),
];

/// Sentences of the briefings: they name the stories' subjects in passing, so words of every
/// query also appear in posts that must not win.
const BRIEF_EN: &[&str] = &[
    "Water remains scarce across the south and prices keep rising.",
    "Hospitals report shortages of fuel and medicine.",
    "Schools and universities stay closed for another week.",
    "Aid trucks crossed in smaller numbers than promised.",
    "Families in tents prepare for the winter rain.",
    "Electricity and the internet were cut again in the north.",
    "Farmers say the harvest will be small this year.",
    "The market in Deir al-Balah reopened for a few hours.",
    "Doctors warn of disease spreading through the camps.",
    "Negotiators are expected to meet again next week.",
    "Journalists and the press face growing danger.",
    "Children's mental health needs more attention, aid groups say.",
];
const BRIEF_AR: &[&str] = &[
    "لا تزال المياه شحيحة في الجنوب والأسعار في ارتفاع.",
    "تبلغ المستشفيات عن نقص في الوقود والأدوية.",
    "تبقى المدارس والجامعات مغلقة لأسبوع آخر.",
    "عبرت شاحنات المساعدات بأعداد أقل مما وعد به.",
    "تستعد العائلات في الخيام لأمطار الشتاء.",
    "انقطعت الكهرباء والإنترنت مجددا في الشمال.",
    "يقول المزارعون إن المحصول سيكون قليلا هذا العام.",
    "أعيد فتح السوق في دير البلح لبضع ساعات.",
    "يحذر الأطباء من انتشار الأمراض في المخيمات.",
    "يتوقع أن يلتقي المفاوضون مجددا الأسبوع المقبل.",
    "يواجه الصحفيون والصحافة خطرا متزايدا.",
    "تحتاج الصحة النفسية للأطفال إلى مزيد من الاهتمام، بحسب منظمات الإغاثة.",
];

/// (query, slug of the must-have story, its language).
const QUERIES: &[(&str, &str, &str)] = &[
    // English: inflections, phrases, names, prefixes as typed.
    ("desalination", "desalination-plant", "en"),
    ("desalination plants", "desalination-plant", "en"),
    ("field hospital", "field-hospitals", "en"),
    ("\"field hospitals\"", "field-hospitals", "en"),
    ("fisherman", "fishermen-sea", "en"),
    ("olive harvests", "olive-harvest", "en"),
    ("electricity cut", "electricity-cuts", "en"),
    ("school shelter", "schools-shelters", "en"),
    ("bakery flour", "bakeries-flour", "en"),
    ("journalist killed", "journalists-killed", "en"),
    ("Khan Younis sewage", "sewage-khan-younis", "en"),
    ("solar panel", "solar-panels", "en"),
    ("polio vaccinations", "vaccination-campaign", "en"),
    ("aid truck crossing", "border-crossing", "en"),
    ("studying by candlelight", "university-students", "en"),
    ("cancer permits", "cancer-patients", "en"),
    ("rubble", "rubble-removal", "en"),
    ("internet blackouts", "internet-blackout", "en"),
    ("tents flooded", "winter-tents", "en"),
    ("orphan", "orphans-care", "en"),
    ("sugar prices market", "market-prices", "en"),
    ("ambulance fuel", "fuel-shortage", "en"),
    ("Saint Hilarion", "archaeology-site", "en"),
    ("Yarmouk stadium", "football-stadium", "en"),
    ("midwife", "women-midwives", "en"),
    ("dialys", "kidney-dialysis", "en"),
    ("greenhous", "greenhouses", "en"),
    ("floating pier", "port-construction", "en"),
    ("Great Omari Mosque", "mosque-restoration", "en"),
    ("insulin fridge", "insulin-diabetes", "en"),
    // Arabic: with and without diacritics, each alef form, with and without ال and و/ب/ل,
    // plurals, ta marbuta written as ha, Arabic-Indic digits, phrases, names.
    ("تحلية المياه", "desalination-plant", "ar"),
    ("تَحْلِيَة", "desalination-plant", "ar"),
    ("محطه التحليه", "desalination-plant", "ar"),
    ("مستشفى ميداني", "field-hospitals", "ar"),
    ("المستشفيات الميدانيه", "field-hospitals", "ar"),
    ("الصيادين", "fishermen-sea", "ar"),
    ("الزّيتون", "olive-harvest", "ar"),
    ("والزيتون", "olive-harvest", "ar"),
    ("بالكهرباء", "electricity-cuts", "ar"),
    ("ملجأ المدارس", "schools-shelters", "ar"),
    ("المخابز الطحين", "bakeries-flour", "ar"),
    ("الصحفيون", "journalists-killed", "ar"),
    ("\"خان يونس\"", "sewage-khan-younis", "ar"),
    ("الطاقه الشمسيه", "solar-panels", "ar"),
    ("الواح شمسية", "solar-panels", "ar"),
    ("التطعيم", "vaccination-campaign", "ar"),
    ("للمعبر", "border-crossing", "ar"),
    ("طلاب الجامعه", "university-students", "ar"),
    ("مرضى السرطان", "cancer-patients", "ar"),
    ("مريض السرطان", "cancer-patients", "ar"),
    ("الرُّكام", "rubble-removal", "ar"),
    ("الانترنت", "internet-blackout", "ar"),
    ("الأيتام", "orphans-care", "ar"),
    ("ايتام", "orphans-care", "ar"),
    ("سيارات الاسعاف", "fuel-shortage", "ar"),
    ("القابلات", "women-midwives", "ar"),
    ("إسعاف الوقود", "fuel-shortage", "ar"),
    ("الكلى", "kidney-dialysis", "ar"),
    ("٢٠٢٤", "census-2024", "ar"),
    ("المسجد العمري", "mosque-restoration", "ar"),
];

fn write_corpus(dir: &std::path::Path) {
    let mut seed = 7u64;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n
    };
    for (i, (slug, en_t, en_p, ar_t, ar_p, tag_en, tag_ar)) in STORIES.iter().enumerate() {
        for (lang, title, para, tag, brief) in [
            ("en", en_t, en_p, tag_en, BRIEF_EN),
            ("ar", ar_t, ar_p, tag_ar, BRIEF_AR),
        ] {
            let mut body = String::new();
            for _ in 0..3 {
                writeln!(body, "{}\n", brief[next(brief.len())]).unwrap();
            }
            writeln!(body, "{para}\n").unwrap();
            for _ in 0..2 {
                writeln!(body, "{}\n", brief[next(brief.len())]).unwrap();
            }
            let month = 1 + i % 12;
            std::fs::write(
                dir.join(format!("{slug}.{lang}.md")),
                format!(
                    "+++\ntitle = {title:?}\ndate = 2024-{month:02}-{:02}T08:00:00Z\nkind = \"report\"\nslug = \"{slug}\"\ntranslation_key = \"{slug}\"\ntags = [{tag:?}]\n+++\n\n{body}",
                    1 + i % 28
                ),
            )
            .unwrap();
        }
    }
    // Briefings: 50 a language, each with five sentences and one story's paragraph quoted at
    // the end, so every story's words also appear, lower down, in a post that is not it.
    for b in 0..50 {
        for (lang, brief, title) in [
            ("en", BRIEF_EN, "Daily briefing"),
            ("ar", BRIEF_AR, "الموجز اليومي"),
        ] {
            let mut body = String::new();
            for _ in 0..5 {
                writeln!(body, "{}\n", brief[next(brief.len())]).unwrap();
            }
            let s = STORIES[next(STORIES.len())];
            writeln!(body, "{}\n", if lang == "en" { s.2 } else { s.4 }).unwrap();
            std::fs::write(
                dir.join(format!("briefing-{b}.{lang}.md")),
                format!(
                    "+++\ntitle = \"{title} {b}\"\ndate = 2025-{:02}-{:02}T06:00:00Z\nkind = \"news\"\nslug = \"briefing-{b}\"\n+++\n\n{body}",
                    1 + b % 12,
                    1 + b % 28
                ),
            )
            .unwrap();
        }
    }
}

fn search(app: &TestApp, lang: &str, q: &str) -> Vec<String> {
    let html = app
        .get(&format!(
            "/{lang}/search?q={}",
            percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC)
        ))
        .text();
    // The results' links, in order.
    html.split("<ol class=\"search-results\">")
        .nth(1)
        .unwrap_or("")
        .split("</ol>")
        .next()
        .unwrap_or("")
        .split("<h2><a href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|u| {
            percent_encoding::percent_decode_str(u)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn the_relevance_set_finds_its_stories_in_the_first_five() {
    let app = TestApp::spawn();
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path());
    let report = app.import(dir.path());
    assert_eq!(report.created, 200, "{:?}", report.failed);
    let mut found = 0;
    let mut rr = 0.0;
    let mut misses = Vec::new();
    for (q, slug, lang) in QUERIES {
        let want = format!("/{lang}/{slug}");
        let got = search(&app, lang, q);
        match got.iter().take(5).position(|u| *u == want) {
            Some(i) => {
                found += 1;
                rr += 1.0 / (i + 1) as f64;
            }
            None => misses.push(format!(
                "{q:?} wants {want}, got {:?}",
                &got[..got.len().min(5)]
            )),
        }
    }
    let n = QUERIES.len() as f64;
    let recall = found as f64 / n;
    println!(
        "relevance set ({} queries, {} Arabic): recall@5 {:.3}, MRR {:.3}",
        QUERIES.len(),
        QUERIES.iter().filter(|q| q.2 == "ar").count(),
        recall,
        rr / n
    );
    for m in &misses {
        println!("missed: {m}");
    }
    assert!(QUERIES.len() >= 60);
    assert!(QUERIES.iter().filter(|q| q.2 == "ar").count() * 2 >= QUERIES.len());
    assert!(recall >= 0.95, "recall@5 {recall:.3} < 0.95: {misses:#?}");
}

#[test]
fn the_search_page_is_safe_with_any_query_and_follows_the_posts() {
    let app = TestApp::spawn();
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path());
    app.import(dir.path());

    // A query that is markup shows as text.
    let xss = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
    let page = app.get(&format!(
        "/en/search?q={}",
        percent_encoding::utf8_percent_encode(xss, percent_encoding::NON_ALPHANUMERIC)
    ));
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(!html.contains("<script>alert(1)"), "the query is escaped");
    assert!(!html.contains("<img src=x"), "the query is escaped");
    assert!(html.contains("&lt;script&gt;"), "it shows as text");

    // Empty, punctuation only, overlong: a clear page each, never an error.
    for (q, says) in [
        ("", "Type a few words above"),
        ("!!! ... ،،، ؟؟", "There are no words to look for"),
        (&"water ".repeat(80), "Only the first 200 characters"),
    ] {
        let r = app.get(&format!(
            "/en/search?q={}",
            percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC)
        ));
        assert_eq!(r.status, 200, "{q:?}");
        assert!(r.text().contains(says), "{q:?}");
    }
    let r = app.get("/en/search?q=%FF%FE&page=abc&kind=poem&year=x");
    assert_eq!(r.status, 200, "unreadable parameters are ignored");
    let none = app.get("/ar/search?q=zzzzqqq").text();
    assert!(none.contains("لا شيء يطابق"), "{none}");
    assert!(none.contains("dir=\"rtl\""));

    // A query in the other language's script finds what it can, from either page.
    let cross = search(&app, "en", "تحلية المياه");
    assert_eq!(
        cross.first().map(String::as_str),
        Some("/ar/desalination-plant"),
        "{cross:?}"
    );
    let cross = search(&app, "ar", "desalination");
    assert_eq!(
        cross.first().map(String::as_str),
        Some("/en/desalination-plant"),
        "{cross:?}"
    );

    // The header's search box on every page, without a script.
    let home = app.get("/en/").text();
    assert!(home.contains("action=\"/en/search\""));
    assert!(home.contains("role=\"search\""));

    // Matched words are marked, in the reader's spelling.
    let html = app
        .get("/ar/search?q=%D8%A7%D9%84%D9%85%D9%8A%D8%A7%D9%87")
        .text();
    assert!(html.contains("<mark>"), "{html}");

    // Filters: kind and year.
    let news = search(&app, "en", "water kind");
    assert!(!news.is_empty());
    let only_news = app.get("/en/search?q=water&kind=news").text();
    assert!(only_news.contains("/en/briefing-"));
    assert!(!only_news.contains("href=\"/en/desalination-plant\""));
    let y2024 = app.get("/en/search?q=water&year=2024").text();
    assert!(!y2024.contains("/en/briefing-"), "briefings are from 2025");

    // Drafts are not found; an edit is found at once; a deletion is gone.
    app.sql_exec("UPDATE posts SET status = 'draft' WHERE slug = 'salt-sea'");
    assert!(!search(&app, "en", "seawater salt").contains(&"/en/salt-sea".to_string()));
    let edit = tempfile::tempdir().unwrap();
    std::fs::write(
        edit.path().join("salt-sea.en.md"),
        "+++\ntitle = \"Making salt from the sea\"\ndate = 2024-03-01T08:00:00Z\nkind = \"report\"\nslug = \"salt-sea\"\n+++\n\nNow about the zebrafish of the harbour.\n",
    )
    .unwrap();
    app.import(edit.path());
    assert_eq!(
        search(&app, "en", "zebrafish"),
        vec!["/en/salt-sea".to_string()]
    );
    app.sql_exec("DELETE FROM posts WHERE slug = 'salt-sea' AND lang = 'en'");
    assert!(search(&app, "en", "zebrafish").is_empty());
}

#[test]
fn editors_search_every_post_with_the_same_engine() {
    let app = TestApp::spawn();
    let mut owner = common::admin::owner(&app);
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path());
    app.import(dir.path());
    app.sql_exec("UPDATE posts SET status = 'draft' WHERE slug = 'field-hospitals'");
    app.sql_exec("UPDATE content_version SET version = version + 1");

    // Another spelling of the title's words (plural, no ال, ha for ta marbuta) finds the draft.
    let q =
        percent_encoding::utf8_percent_encode("مستشفى ميدانيه", percent_encoding::NON_ALPHANUMERIC);
    let list = owner.get(&format!("/admin/posts?q={q}")).text();
    assert!(
        list.contains("المستشفيات الميدانية تفيض بالجرحى في رفح"),
        "{list}"
    );
    assert!(!list.contains("الصيادون ممنوعون"), "only what matches");
    // Words of the body, not only of the title; the word being typed.
    let list = owner.get("/admin/posts?q=Saint+Hilar").text();
    assert!(list.contains("Ancient monastery damaged"), "{list}");
    // Readers do not see the draft.
    assert!(!search(&app, "ar", "مستشفى ميدانيه").contains(&"/ar/field-hospitals".to_string()));
    // Nothing to look for: nothing listed, and no error.
    let r = owner.get("/admin/posts?q=%21%21%21");
    assert_eq!(r.status, 200);
    assert!(!r.text().contains("Ancient monastery damaged"));
}

#[test]
fn the_index_is_rebuilt_when_its_rules_change_or_on_demand() {
    let app = TestApp::spawn();
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path());
    app.import(dir.path());
    // As after an upgrade whose word rules differ: the index is old and partly missing.
    app.sql_exec("UPDATE search_state SET version = 0");
    app.sql_exec("DELETE FROM post_terms WHERE post_id % 2 = 0");
    // The running server's index follows the content version.
    app.sql_exec("UPDATE content_version SET version = version + 1");
    assert!(search(&app, "en", "desalination").len() < 2);
    // Opening the database (any command, or the server's start) rebuilds it.
    let out = common::jarida_cmd(app.dir.path(), &app.test_db)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        search(&app, "en", "desalination")
            .first()
            .map(String::as_str),
        Some("/en/desalination-plant")
    );
    // And on demand.
    let out = common::jarida_cmd(app.dir.path(), &app.test_db)
        .args(["search", "rebuild"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("search index rebuilt: 200 posts"), "{said}");
    assert_eq!(
        search(&app, "ar", "تحلية").first().map(String::as_str),
        Some("/ar/desalination-plant")
    );
}
