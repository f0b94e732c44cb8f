#include <smtp/smtp.h>
#include <stdio.h>
int main(void)
{
    printf("%s\n", smtp_lib_version());
    return 0;
}
