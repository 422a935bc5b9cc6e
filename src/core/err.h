/* err.h — every outcome promo can report: machine code, HTTP status,
 * English and Korean sentences. One X-macro table so that a new refusal is
 * one line and can never be half-wired (libuv's error table, in promo terms).
 *
 * The 422 rows are the stable refusal reasons of API.md; their text is what
 * a shopper may read. The three SF_ rows are the coarse reasons a
 * storefront token is told instead (core_coarse_reason): one text per
 * coarse reason whatever the fine one was, so the message cannot tell
 * "expired" from "not yet valid" either. Two of them share the machine
 * code of a fine reason (code_expired, code_redeemed); promo_err_from_code
 * gives the fine row, which comes first. The other rows are generic API errors; their text is a
 * fallback only: the API layer usually sends a message naming the field. */
#ifndef PROMO_CORE_ERR_H
#define PROMO_CORE_ERR_H

#define PROMO_ERRORS(X)                                                                           \
    X(OK, 200, "ok", "ok", "정상입니다")                                                          \
    X(BAD_REQUEST, 400, "bad_request", "the request is malformed", "요청 형식이 올바르지 않습니다") \
    X(UNAUTHORIZED, 401, "unauthorized", "a valid bearer token is required",                      \
      "유효한 인증 토큰이 필요합니다")                                                            \
    X(FORBIDDEN, 403, "forbidden", "this token may not do that", "이 토큰으로는 허용되지 않습니다") \
    X(NOT_FOUND, 404, "not_found", "no such resource", "해당 리소스가 없습니다")                  \
    X(METHOD_NOT_ALLOWED, 405, "method_not_allowed", "this method is not allowed here",           \
      "허용되지 않는 메서드입니다")                                                               \
    X(CONFLICT, 409, "conflict", "the request conflicts with the current state",                  \
      "현재 상태와 충돌하는 요청입니다")                                                          \
    X(URI_TOO_LONG, 414, "uri_too_long", "the request URL is too long", "요청 URL이 너무 깁니다")         \
    X(HEADERS_TOO_LARGE, 431, "headers_too_large", "the request headers are too large",           \
      "요청 헤더가 너무 큽니다")                                                                  \
    X(PAYLOAD_TOO_LARGE, 413, "payload_too_large", "the request body is too large",               \
      "요청 본문이 너무 큽니다")                                                                  \
    X(UNSUPPORTED_MEDIA, 415, "unsupported_media_type", "unsupported content type",               \
      "지원하지 않는 콘텐츠 형식입니다")                                                          \
    X(KEYSPACE_TOO_SMALL, 422, "keyspace_too_small",                                              \
      "the pattern leaves too few possible codes: codes would be guessable",                      \
      "가능한 코드 수가 너무 적어 추측될 수 있습니다")                                            \
    X(INVALID_FORMAT, 422, "invalid_format", "This code is not written correctly.",               \
      "쿠폰 코드 형식이 올바르지 않습니다.")                                                      \
    X(CODE_NOT_FOUND, 422, "code_not_found", "This code does not exist.",                         \
      "존재하지 않는 쿠폰 코드입니다.")                                                           \
    X(CODE_DISABLED, 422, "code_disabled", "This code has been disabled.",                        \
      "사용이 중지된 쿠폰 코드입니다.")                                                           \
    X(CODE_REDEEMED, 422, "code_redeemed", "This code has already been used.",                    \
      "이미 사용된 쿠폰 코드입니다.")                                                             \
    X(CODE_EXPIRED, 422, "code_expired", "This code has expired.", "유효기간이 지난 쿠폰입니다.") \
    X(CODE_NOT_YET_VALID, 422, "code_not_yet_valid", "This code cannot be used yet.",             \
      "아직 사용할 수 없는 쿠폰입니다.")                                                          \
    X(CAMPAIGN_INACTIVE, 422, "campaign_inactive", "This promotion is not running right now.",    \
      "현재 진행 중인 프로모션이 아닙니다.")                                                      \
    X(CAMPAIGN_LIMIT_REACHED, 422, "campaign_limit_reached",                                      \
      "This promotion has reached its limit.", "프로모션 사용 한도에 도달했습니다.")              \
    X(BUDGET_EXHAUSTED, 422, "budget_exhausted", "This promotion's budget has been used up.",     \
      "프로모션 예산이 모두 소진되었습니다.")                                                     \
    X(CUSTOMER_LIMIT_REACHED, 422, "customer_limit_reached",                                      \
      "You have already used this promotion the maximum number of times.",                        \
      "이 프로모션의 1인당 사용 한도를 초과했습니다.")                                            \
    X(CUSTOMER_REQUIRED, 422, "customer_required", "Please sign in to use this code.",            \
      "로그인 후 사용할 수 있는 쿠폰입니다.")                                                     \
    X(CODE_ASSIGNED_TO_OTHER_CUSTOMER, 422, "code_assigned_to_other_customer",                    \
      "This code belongs to another customer.", "다른 고객에게 발급된 쿠폰입니다.")               \
    X(CUSTOMER_NOT_ELIGIBLE, 422, "customer_not_eligible",                                        \
      "You are not eligible for this promotion.", "이 프로모션의 대상 고객이 아닙니다.")          \
    X(MIN_ORDER_NOT_MET, 422, "min_order_not_met",                                                \
      "Your order does not reach the minimum amount for this code.",                              \
      "최소 주문 금액을 충족하지 않습니다.")                                                      \
    X(NO_ELIGIBLE_ITEMS, 422, "no_eligible_items",                                                \
      "No item in your order is eligible for this code.",                                         \
      "쿠폰을 적용할 수 있는 상품이 없습니다.")                                                   \
    X(CURRENCY_MISMATCH, 422, "currency_mismatch",                                                \
      "This code cannot be used with your order's currency.",                                     \
      "주문 통화에는 사용할 수 없는 쿠폰입니다.")                                                 \
    X(SF_CODE_INVALID, 422, "code_invalid", "This code cannot be used.",                          \
      "사용할 수 없는 쿠폰 코드입니다.")                                                          \
    X(SF_CODE_EXPIRED, 422, "code_expired", "This code cannot be used at this time.",             \
      "현재 사용 가능한 기간이 아닌 쿠폰입니다.")                                                 \
    X(SF_CODE_REDEEMED, 422, "code_redeemed", "This code has already been used.",                 \
      "이미 사용된 쿠폰 코드입니다.")                                                             \
    X(RATE_LIMITED, 429, "rate_limited", "Too many attempts; please try again later.",            \
      "시도 횟수가 너무 많습니다. 잠시 후 다시 시도해 주세요.")                                   \
    X(INTERNAL, 500, "internal", "an internal error occurred", "내부 오류가 발생했습니다")        \
    X(UNAVAILABLE, 503, "unavailable", "the service is temporarily unavailable",                  \
      "일시적으로 서비스를 이용할 수 없습니다")                                                      \
    X(NOT_ON_STORE, 503, "unavailable", "this feature is not yet available on the PostgreSQL store", \
      "이 기능은 아직 PostgreSQL 저장소에서 사용할 수 없습니다")

enum promo_err {
#define PROMO_X_ENUM(name, status, code, en, ko) PROMO_##name,
    PROMO_ERRORS(PROMO_X_ENUM)
#undef PROMO_X_ENUM
    PROMO_ERR__COUNT
};

enum promo_lang { PROMO_LANG_EN = 0, PROMO_LANG_KO = 1 };

/* HTTP status of an outcome (422 for refusals). */
int promo_err_status(enum promo_err e);
/* Stable machine code ("code_redeemed"). Static storage, never NULL. */
const char *promo_err_code(enum promo_err e);
/* Human sentence in the given language. Static storage, never NULL. */
const char *promo_err_message(enum promo_err e, enum promo_lang lang);
/* Parses a machine code back; returns PROMO_ERR__COUNT when unknown. */
enum promo_err promo_err_from_code(const char *code);
/* True for the refusal reasons a validation can answer (the 422 reasons
 * of API.md's list, the coarse storefront ones, plus rate_limited). */
int promo_err_is_reason(enum promo_err e);

#endif
