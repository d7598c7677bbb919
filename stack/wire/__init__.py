# Header field access over (buf, off): check before access, emit is the inverse of parse.
