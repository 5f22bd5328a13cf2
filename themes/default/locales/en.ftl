### Jarida default theme: English (en) interface strings.
### Fluent syntax (https://projectfluent.org), loaded with fluent-bundle 0.16.
### Every message id here must also exist in ar.ftl, and vice versa.
### Trailing spaces are trimmed from values, so separators with spaces are quoted string literals.

## Page chrome: skip link, header navigation, footer

skip-to-content = Skip to content
nav-label = Main
nav-home = Home
nav-reports = Reports
nav-news = News
nav-designs = Designs
nav-support = Support us
nav-newsletter = Newsletter
nav-archive = Archive
footer-links-label = More links
footer-support-heading = Keep us independent
footer-no-ads = We don’t run ads. Help us stay online.
lang-name = English
read-in-this-language = Read in English
home-title = Home

## Newsletter

newsletter-pitch = Twice a month, the most important updates from our website, straight to your inbox.
newsletter-more = About the newsletter
newsletter-privacy = No tracking pixels, unsubscribe in one click, and we never share your address.
newsletter-soon = Sign-up opens soon.

## Lists of posts

featured = Featured
latest = Latest
empty-list = Nothing here yet.
pagination-label = Pages
newer = Newer
older = Older
# $page (Number) - current page; $pages (Number) - number of pages
page-of = Page { $page } of { $pages }
# $count (Number) - number of posts in the list
posts-count =
    { $count ->
        [0] No posts yet
        [one] { $count } post
       *[other] { $count } posts
    }
feed-link = Feed

## Post kinds and list titles (used by the server)

kind-report = Report
kind-news = News
kind-design = Design
title-reports = Reports
title-news = News
title-designs = Designs
# $tag (String) - tag name
tag-title = Tagged “{ $tag }”
# $author (String) - author's display name
author-title = Stories by { $author }
# $site (String) - site name; $kind (String) - title of the kind, e.g. "Reports"
feed-title-kind = { $site }: { $kind }

## Archive and dates

# $month (String) - month name from month-N; $year (Number)
archive-month-title = { $month } { $year }
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December

## Article page

by = By
# Between names in a list (authors, publishers, tags)
list-sep = { ", " }
# $date (String) - formatted date
published-on = Published { $date }
# $date (String) - formatted date
updated-on = Updated { $date }
based-on = Based on reporting by
corrections-heading = Corrections
sources-heading = Sources
tags-heading = Tags
plain-text-version = Plain-text version

## Support page

support-title = Support our work
support-intro = We don’t run ads and we don’t take money from governments or parties. Our work is paid for by readers like you.
support-online = Give online
support-bank = Bank transfer
support-privacy = Giving does not put you on any list: we don’t share donor information.

## Errors

not-found-title = Page not found
not-found-text = The page you are looking for may have been removed or moved to another address.
error-title = Something went wrong
error-text = We couldn’t display this page. Please try again in a little while.
back-home = Back to the home page

## Sign-up, confirmation, preferences (subscriptions)

signup-email = Email address
signup-name = Name (optional)
signup-button = Subscribe
newsletter-consent = By subscribing you agree to receive our newsletter twice a month. We will ask you to confirm by email, and you can unsubscribe at any time with one click.
subscribe-sent-title = Check your inbox
subscribe-sent-text = If { $email } can receive our newsletter, we have just sent it a link to confirm. The link works for 48 hours.
subscribe-invalid-title = That address can't be used
email-error-empty = the address is empty.
email-error-at = it needs exactly one @, as in name@example.org.
email-error-local = the part before @ is not valid.
email-error-domain = the domain after @ is not valid.
email-error-long = it is too long.
rate-limited-title = Too many requests
rate-limited-text = Please try again in an hour.
confirm-title = Confirm your subscription
confirm-text = Press the button to confirm that you want to receive our newsletter.
confirm-button = Confirm my subscription
confirmed-title = You're subscribed
confirmed-text = Thank you. The next edition will reach you soon.
token-invalid-title = This link doesn't work
token-invalid-text = It may have been used already or be incomplete. You can sign up again from the newsletter page.
token-expired-text = This confirmation link has expired. Sign up again and we will send a new one.
manage-title = Your subscription
manage-intro = Subscribed as { $email } ({ $status }).
manage-language = Language of the newsletter
manage-newsletters = Newsletters
manage-save = Save my preferences
manage-saved = Your preferences are saved.
manage-leave = Leaving
manage-unsubscribe = Unsubscribe from everything
manage-download = Download my data
manage-erase = Erase me
manage-erase-note = Erasing deletes everything we hold about you. We keep only a one-way hash of your address so that it is never added again.
manage-data-note = To download or erase your data, we email you a link that works for one hour.
data-sent-title = Check your email
data-sent-text = We sent you a link to download or erase your data. It works for one hour.
data-title = Your data
data-intro = Download what we hold about { $email }, or erase it.
email-data-subject = Your data at { $site }
email-data-text = You asked to download or erase what { $site } holds about you. Open the link below within an hour. If you did not ask, ignore this email.
data-link-button = Download or erase my data
erased-title = Erased
erased-text = We deleted your subscription and its history.
status-pending = waiting for confirmation
status-active = subscribed
status-unsubscribed = unsubscribed
status-bounced = undeliverable
status-complained = marked as spam
unsubscribe-title = Unsubscribe
unsubscribe-text = Press the button to stop receiving our newsletter at { $email }.
unsubscribe-button = Unsubscribe
unsubscribed-title = You're unsubscribed
unsubscribed-text = You will not receive the newsletter any more. Changed your mind? Subscribe again from the newsletter page.
manage-link = Manage your subscription
email-confirm-subject = Confirm your subscription to { $site }
email-confirm-text = Someone, probably you, asked to receive the { $site } newsletter at this address. To confirm, open the link below. If it wasn't you, ignore this email and you won't hear from us again.
email-manage-subject = Your subscription to { $site }
email-manage-text = You are already subscribed to the { $site } newsletter. To change your preferences or unsubscribe, open the link below.
email-welcome-subject = Welcome to the { $site } newsletter
email-welcome-text = Your subscription is confirmed. Twice a month you will receive the most important updates from our website.
email-footer = You receive this email because this address was entered on { $site }.

## Newsletter editions on the web
newsletter-editions = Past editions
newsletter-feed = Follow the editions by RSS
edition-number = No.
edition-featured = Featured

## The newsletter's email frame (`labels.<name>` in newsletter.mjml and newsletter.txt)
edition-label-web = Read this edition in your browser
edition-label-number = No.
edition-label-featured = Featured
edition-label-reports = Reports
edition-label-news = News
edition-label-designs = Designs
edition-label-read = Read more
edition-label-corrections = Corrections
edition-label-more = More in the web version of this edition
edition-label-support = We don't run ads. Help us stay independent
edition-label-why = You receive this email because you subscribed to our newsletter.
edition-label-manage = Manage your subscription
edition-label-unsubscribe = Unsubscribe
# $newsletter (String), $number (Number)
edition-subject = { $newsletter } — No. { $number }

## The notice editors receive when the cadence composed a draft
# $newsletter (String), $number (Number)
email-draft-subject = Draft ready: { $newsletter } No. { $number }
email-draft-text = Edition { $number } of { $newsletter } is ready for review.
# $lang (String), $subject (String), $posts (Number), $corrections (Number)
email-draft-part = { $lang }: “{ $subject }”, { $posts ->
    [one] 1 post
   *[other] { $posts } posts
  }, { $corrections ->
    [one] 1 correction
   *[other] { $corrections } corrections
  }
# $id (Number), $api (String)
email-draft-how = Review it with `jarida editions show { $id }`, change it with `jarida editions edit { $id }`, and send it with `jarida editions approve { $id }` (or through the API at { $api }).

## Added with the front page design
# $date (String) - formatted date; $time (String) - hours:minutes; $zone (String) - time zone
date-time = { $date }, { $time } { $zone }
lead-story = Lead story
more-reports = All reports
more-news = All news
more-designs = All designs
article-support = Reporting like this is paid for by readers, not advertisers.
support-other-heading = Other ways to help
support-other = Read us, subscribe to the newsletter and share our reporting: it is how independent journalism finds its readers.

## Alerts to the owner about returned mail
email-alert-refused-subject = { $site }: a receiving server refused a newsletter for policy
email-alert-refused-text = A mail server refused one of our messages for a reason that concerns the sender or the content, not the reader (a blocklist, authentication, spam filtering). Its reply: { $reply } — Check the sender's DNS records (SPF, DKIM, DMARC) and the dashboard: { $admin } (at most one such email a day).
email-alert-paused-subject = { $site }: edition { $number } paused, too many addresses bounced
email-alert-paused-text = Edition { $number } was paused while going out: { $percent }% of the messages sent so far came back as unknown addresses, more than mailbox providers tolerate. The list may be stale. Look at its readers, then resume or cancel it in the admin: { $admin }

## Search
search-title = Search
search-title-for = Search: { $q }
search-label = Search the site
search-placeholder = Search
search-button = Search
search-help = Words in "quotes" are found together. Arabic is found with or without its diacritics and prefixes.
search-kind = Kind
search-kind-any = Any kind
search-year = Year
search-year-any = Any year
search-prompt = Type a few words above: a name, a place, a phrase from a story.
search-no-words = There are no words to look for in that: try letters or numbers.
search-none = Nothing matches “{ $q }”. Try fewer words, or another spelling.
search-count =
    { $count ->
        [one] One story
       *[other] { $count } stories
    }
search-count-more = More than { $count } stories
search-any-word = (none has every word: these have some of them)
search-cut = Only the first 200 characters and 12 words of the search were used.
search-prev = Previous results
search-next = More results
