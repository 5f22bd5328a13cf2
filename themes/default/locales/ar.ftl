### Jarida default theme: Arabic (ar) interface strings, Modern Standard Arabic.
### Fluent syntax (https://projectfluent.org), loaded with fluent-bundle 0.16.
### Every message id here must also exist in en.ftl, and vice versa.
### Trailing spaces are trimmed from values, so separators with spaces are quoted string literals.

## Page chrome: skip link, header navigation, footer

skip-to-content = انتقل إلى المحتوى
nav-label = القائمة الرئيسية
nav-home = الرئيسية
nav-reports = تقارير
nav-news = أخبار
nav-designs = تصاميم
nav-support = ادعمنا
nav-newsletter = النشرة البريدية
nav-archive = الأرشيف
footer-links-label = روابط أخرى
footer-support-heading = ساعدنا لنبقى مستقلين
footer-no-ads = لا ننشر إعلانات. ساعدنا على الاستمرار.
lang-name = العربية
read-in-this-language = اقرأ بالعربية
home-title = الرئيسية

## Newsletter

newsletter-pitch = مرتين في الشهر، أهم المستجدات من موقعنا مباشرة إلى بريدك الإلكتروني.
newsletter-more = عن النشرة البريدية
newsletter-privacy = لا نستخدم أي وسائل لتتبّع القراءة، ويمكنك إلغاء اشتراكك بنقرة واحدة، ولن نشارك عنوان بريدك مع أي جهة.
newsletter-soon = يُفتح باب الاشتراك قريبًا.

## Lists of posts

featured = مختارات
latest = أحدث المواد
empty-list = لا توجد مواد هنا بعد.
pagination-label = الصفحات
newer = الأحدث
older = الأقدم
# $page (Number) - current page; $pages (Number) - number of pages
page-of = الصفحة { $page } من { $pages }
# $count (Number) - number of posts in the list.
# Arabic uses all six CLDR plural categories:
# zero = 0; one = 1; two = 2; few = 3–10 (and 103–110…); many = 11–99 (and 111–199…); other = 100, 101, 102…
posts-count =
    { $count ->
        [zero] لا توجد مواد
        [one] مادة واحدة
        [two] مادتان
        [few] { $count } مواد
        [many] { $count } مادة
       *[other] { $count } مادة
    }
feed-link = الخلاصة

## Post kinds and list titles (used by the server)

kind-report = تقرير
kind-news = خبر
kind-design = تصميم
title-reports = تقارير
title-news = أخبار
title-designs = تصاميم
# $tag (String) - tag name
tag-title = مواد بوسم «{ $tag }»
# $author (String) - author's display name
author-title = مواد بقلم { $author }
# $site (String) - site name; $kind (String) - title of the kind, e.g. "تقارير"
feed-title-kind = { $site }: { $kind }

## Archive and dates

# $month (String) - month name from month-N; $year (Number)
archive-month-title = { $month } { $year }
month-1 = يناير
month-2 = فبراير
month-3 = مارس
month-4 = أبريل
month-5 = مايو
month-6 = يونيو
month-7 = يوليو
month-8 = أغسطس
month-9 = سبتمبر
month-10 = أكتوبر
month-11 = نوفمبر
month-12 = ديسمبر

## Article page

by = بقلم
# Between names in a list (authors, publishers, tags): Arabic comma
list-sep = { "، " }
# $date (String) - formatted date
published-on = نُشر في { $date }
# $date (String) - formatted date
updated-on = آخر تحديث: { $date }
# Followed by publisher names, read as a construct: "based on the coverage of X، Y"
based-on = استنادًا إلى تغطية
corrections-heading = تصحيحات
sources-heading = المصادر
tags-heading = الوسوم
plain-text-version = النسخة النصية

## Support page

support-title = ادعم عملنا
support-intro = لا ننشر إعلانات، ولا نقبل أموالًا من حكومات أو أحزاب. يموّل عملَنا قرّاءٌ مثلك.
support-online = التبرع عبر الإنترنت
support-bank = تحويل مصرفي
support-privacy = تبرعك لا يضعك على أي قائمة: لا نشارك بيانات المتبرعين مع أحد.

## Errors

not-found-title = الصفحة غير موجودة
not-found-text = ربما حُذفت الصفحة التي تبحث عنها أو نُقلت إلى عنوان آخر.
error-title = حدث خطأ ما
error-text = تعذّر عرض هذه الصفحة. يُرجى المحاولة مرة أخرى بعد قليل.
back-home = العودة إلى الصفحة الرئيسية

## Sign-up, confirmation, preferences (subscriptions)

signup-email = البريد الإلكتروني
signup-name = الاسم (اختياري)
signup-button = اشترك
newsletter-consent = باشتراكك توافق على تلقي نشرتنا البريدية مرتين في الشهر. سنطلب منك تأكيد اشتراكك عبر البريد، ويمكنك إلغاء الاشتراك في أي وقت بنقرة واحدة.
subscribe-sent-title = تفقّد بريدك
subscribe-sent-text = إذا كان بإمكان { $email } تلقي نشرتنا، فقد أرسلنا إليه للتوّ رابطًا لتأكيد الاشتراك. يعمل الرابط مدة ٤٨ ساعة.
subscribe-invalid-title = لا يمكن استخدام هذا العنوان
email-error-empty = العنوان فارغ.
email-error-at = يجب أن يحتوي على علامة @ واحدة، مثل name@example.org.
email-error-local = الجزء الذي يسبق @ غير صالح.
email-error-domain = النطاق الذي يلي @ غير صالح.
email-error-long = العنوان طويل جدًا.
rate-limited-title = طلبات كثيرة
rate-limited-text = يُرجى المحاولة مجددًا بعد ساعة.
confirm-title = أكّد اشتراكك
confirm-text = اضغط على الزر لتأكيد رغبتك في تلقي نشرتنا البريدية.
confirm-button = أكّد اشتراكي
confirmed-title = اشتراكك مفعّل
confirmed-text = شكرًا لك. سيصلك العدد القادم قريبًا.
token-invalid-title = هذا الرابط لا يعمل
token-invalid-text = ربما استُخدم من قبل أو أنه غير مكتمل. يمكنك الاشتراك مجددًا من صفحة النشرة البريدية.
token-expired-text = انتهت صلاحية رابط التأكيد هذا. اشترك مجددًا وسنرسل إليك رابطًا جديدًا.
manage-title = اشتراكك
manage-intro = مشترك بالعنوان { $email } ({ $status }).
manage-language = لغة النشرة
manage-newsletters = النشرات
manage-save = احفظ تفضيلاتي
manage-saved = حُفظت تفضيلاتك.
manage-leave = المغادرة
manage-unsubscribe = ألغِ اشتراكي في كل النشرات
manage-download = نزّل بياناتي
manage-erase = احذف بياناتي
manage-erase-note = يحذف هذا كل ما نحتفظ به عنك. لا نُبقي إلا على بصمة أحادية الاتجاه لعنوانك كي لا يُضاف مجددًا.
manage-data-note = لتنزيل بياناتك أو حذفها نرسل إليك رابطًا صالحًا لمدة ساعة واحدة.
data-sent-title = تفقّد بريدك
data-sent-text = أرسلنا إليك رابطًا لتنزيل بياناتك أو حذفها، وهو صالح لمدة ساعة واحدة.
data-title = بياناتك
data-intro = نزّل ما نحتفظ به عن { $email } أو احذفه.
email-data-subject = بياناتك لدى { $site }
email-data-text = طلبت تنزيل ما تحتفظ به { $site } عنك أو حذفه. افتح الرابط أدناه خلال ساعة. إن لم تطلب ذلك فتجاهل هذه الرسالة.
data-link-button = نزّل بياناتي أو احذفها
erased-title = حُذفت بياناتك
erased-text = حذفنا اشتراكك وسجلّه.
status-pending = بانتظار التأكيد
status-active = مشترك
status-unsubscribed = ألغي الاشتراك
status-bounced = تعذّر التسليم
status-complained = أُبلغ عنها كرسائل مزعجة
unsubscribe-title = إلغاء الاشتراك
unsubscribe-text = اضغط على الزر لإيقاف إرسال نشرتنا إلى { $email }.
unsubscribe-button = ألغِ الاشتراك
unsubscribed-title = أُلغي اشتراكك
unsubscribed-text = لن تصلك النشرة بعد الآن. غيّرت رأيك؟ اشترك مجددًا من صفحة النشرة البريدية.
manage-link = إدارة اشتراكك
email-confirm-subject = أكّد اشتراكك في نشرة { $site }
email-confirm-text = طلب شخصٌ ما، على الأرجح أنت، تلقي نشرة { $site } على هذا العنوان. للتأكيد افتح الرابط أدناه. إن لم تكن أنت، فتجاهل هذه الرسالة ولن نراسلك مجددًا.
email-manage-subject = اشتراكك في نشرة { $site }
email-manage-text = أنت مشترك بالفعل في نشرة { $site }. لتغيير تفضيلاتك أو إلغاء الاشتراك، افتح الرابط أدناه.
email-welcome-subject = مرحبًا بك في نشرة { $site }
email-welcome-text = تأكّد اشتراكك. ستصلك مرتين في الشهر أهم المستجدات من موقعنا.
email-footer = تصلك هذه الرسالة لأن هذا العنوان أُدخل في موقع { $site }.

## Newsletter editions on the web
newsletter-editions = الأعداد السابقة
newsletter-feed = تابع الأعداد عبر RSS
edition-number = العدد
edition-featured = مختارات

## إطار النشرة البريدية (`labels.<name>` في newsletter.mjml و newsletter.txt)
edition-label-web = اقرأ هذه النشرة في المتصفح
edition-label-number = العدد
edition-label-featured = مختارات
edition-label-reports = تقارير
edition-label-news = أخبار
edition-label-designs = تصاميم
edition-label-read = اقرأ المزيد
edition-label-corrections = تصحيحات
edition-label-more = المزيد في نسخة الويب من هذا العدد
edition-label-support = لا ننشر إعلانات. ادعمنا لنبقى مستقلين
edition-label-why = وصلتك هذه الرسالة لأنك اشتركت في نشرتنا البريدية.
edition-label-manage = إدارة الاشتراك
edition-label-unsubscribe = إلغاء الاشتراك
edition-subject = { $newsletter } — العدد { $number }

## إشعار المحررين بمسودة عدد جديد
email-draft-subject = مسودة جاهزة: { $newsletter } العدد { $number }
email-draft-text = العدد { $number } من { $newsletter } جاهز للمراجعة.
email-draft-part = { $lang }: «{ $subject }»، عدد المواد: { $posts }، التصحيحات: { $corrections }
email-draft-how = راجعه بالأمر `jarida editions show { $id }`، وعدّله بالأمر `jarida editions edit { $id }`، وأرسله بالأمر `jarida editions approve { $id }` (أو عبر الواجهة البرمجية على { $api }).

## Added with the front page design
# $date (String) - formatted date; $time (String) - hours:minutes; $zone (String) - time zone
date-time = { $date }، الساعة { $time } { $zone }
lead-story = القصة الرئيسية
more-reports = كل التقارير
more-news = كل الأخبار
more-designs = كل التصاميم
article-support = يموّل القرّاءُ لا المعلنون صحافةً كهذه.
support-other-heading = طرق أخرى للمساعدة
support-other = اقرأنا، واشترك في نشرتنا البريدية، وشارك تقاريرنا: هكذا تصل الصحافة المستقلة إلى قرّائها.

## تنبيهات المالك بشأن البريد المرتدّ
email-alert-refused-subject = { $site }: رفض خادم بريد نشرةً لأسباب تتعلق بالسياسة
email-alert-refused-text = رفض خادم بريد إحدى رسائلنا لسبب يخص المرسِل أو المحتوى لا القارئ (قائمة حظر، أو التحقق من الهوية، أو ترشيح الرسائل المزعجة). ردّه: { $reply } — راجع سجلات DNS للمرسِل (SPF وDKIM وDMARC) ولوحة المتابعة: { $admin } (رسالة واحدة كهذه في اليوم على الأكثر).
email-alert-paused-subject = { $site }: أُوقف العدد { $number } مؤقتًا، ارتدّت عناوين كثيرة
email-alert-paused-text = أُوقف العدد { $number } مؤقتًا أثناء إرساله: { $percent }% من الرسائل المرسلة حتى الآن ارتدّت لأن عناوينها غير موجودة، وهذا أكثر مما يتحمّله مزوّدو البريد. قد تكون القائمة قديمة. راجع قرّاءها ثم استأنف الإرسال أو ألغِه من لوحة الإدارة: { $admin }

## Search
search-title = البحث
search-title-for = البحث: { $q }
search-label = ابحث في الموقع
search-placeholder = بحث
search-button = بحث
search-help = الكلمات بين "علامتي تنصيص" يُبحث عنها معًا. يُعثر على الكلمة العربية بتشكيلها أو بدونه، ومع السوابق أو بدونها.
search-kind = النوع
search-kind-any = كل الأنواع
search-year = السنة
search-year-any = كل السنوات
search-prompt = اكتب بضع كلمات أعلاه: اسمًا أو مكانًا أو عبارة من قصة.
search-no-words = لا كلمات يُبحث عنها في ما كتبت: جرّب حروفًا أو أرقامًا.
search-none = لا شيء يطابق «{ $q }». جرّب كلمات أقل أو تهجئة أخرى.
search-count =
    { $count ->
        [zero] لا قصص
        [one] قصة واحدة
        [two] قصتان
        [few] { $count } قصص
        [many] { $count } قصة
       *[other] { $count } قصة
    }
search-count-more = أكثر من { $count } قصة
search-any-word = (لا تحوي أي منها كل الكلمات: هذه تحوي بعضها)
search-cut = استُخدمت أول ٢٠٠ حرف و١٢ كلمة من البحث فقط.
search-prev = النتائج السابقة
search-next = مزيد من النتائج
