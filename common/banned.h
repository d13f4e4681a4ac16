/*
 * Calls that are easy to misuse with untrusted sizes, turned into compile
 * errors. Use mason_buf for formatting and strtol-family parsing for numbers.
 * Every .c file of the project includes this header last.
 */
#ifndef MASON_BANNED_H
#define MASON_BANNED_H

#define MASON_BANNED(func) sorry_##func##_is_banned_use_mason_buf_or_a_bounded_call

#undef sprintf
#define sprintf(...) MASON_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) MASON_BANNED(vsprintf)
#undef strcpy
#define strcpy(a, b) MASON_BANNED(strcpy)
#undef strcat
#define strcat(a, b) MASON_BANNED(strcat)
#undef strtok
#define strtok(a, b) MASON_BANNED(strtok)
#undef atoi
#define atoi(a) MASON_BANNED(atoi)
#undef gmtime
#define gmtime(t) MASON_BANNED(gmtime)
#undef localtime
#define localtime(t) MASON_BANNED(localtime)

#endif
