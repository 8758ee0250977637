# Builds BearSSL from the fetched source with the caller's flags.
# Invoked by the main Makefile: make -f mk/bearssl.mk SRC=... OUT=... CC=... CFLAGS=...
SRCS := $(wildcard $(SRC)/src/*/*.c) $(SRC)/src/settings.c
OBJS := $(patsubst $(SRC)/src/%.c,$(OUT)/%.o,$(SRCS))

$(OUT)/libbearssl.a: $(OBJS)
	@rm -f $@
	@$(AR) rcs $@ $(OBJS)

$(OUT)/%.o: $(SRC)/src/%.c
	@mkdir -p $(dir $@)
	@$(CC) $(CFLAGS) -I$(SRC)/inc -I$(SRC)/src -c -o $@ $<
