// Replay testbench: reads commands written by the Rust reference model
// (fpga/src/vectors.rs), drives them into hm_fpga and logs everything the
// design does, with cycle numbers. The Rust test compares the log with the
// model. Bounded: a watchdog ends the run if nothing happens for WATCHDOG
// cycles, so a hung design fails instead of hanging CI.
//
// Vector lines (hex):  0 0 DATA  beat      1 0 DATA  beat with last
//                      2 ADDR VALUE  CSR write   3 ADDR 0  CSR read   F 0 0  end
// Log lines:  S cyc (first beat of a packet)   O cyc last DATA (response beat)
//             D cyc status (packet done)        C err (write)  R value err (read)
//             M addr word (memory dump)         END / TIMEOUT
// Plusargs: +vectors=FILE +log=FILE [+stall=SEED] (random valid/ready gaps)
`timescale 1ns / 1ps
`default_nettype none

module tb_hm_fpga;
    parameter integer DW = 64;
    parameter integer AW = 10;
    parameter integer N_CONN = 16;
    parameter integer N_FUNC = 8;
    parameter integer N_QUEUE = 8;
    parameter integer N_REGION = 8;
    parameter integer QDEPTH_MAX = 8;
    parameter integer VARIANT_ID = 1;
    parameter integer WATCHDOG = 20000;

    reg clk = 1'b0;
    reg rst = 1'b1;
    reg in_valid = 1'b0;
    wire in_ready;
    reg [DW-1:0] in_data = {DW{1'b0}};
    reg in_last = 1'b0;
    wire out_valid;
    reg out_ready = 1'b1;
    wire [DW-1:0] out_data;
    wire out_last;
    reg csr_valid = 1'b0;
    reg csr_write = 1'b0;
    reg [11:0] csr_addr = 12'd0;
    reg [31:0] csr_wdata = 32'd0;
    wire [31:0] csr_rdata;
    wire [7:0] csr_err;
    wire idle;
    wire pkt_done;
    wire [7:0] pkt_status;

    hm_fpga #(
        .DW(DW), .AW(AW), .N_CONN(N_CONN), .N_FUNC(N_FUNC), .N_QUEUE(N_QUEUE),
        .N_REGION(N_REGION), .QDEPTH_MAX(QDEPTH_MAX), .VARIANT_ID(VARIANT_ID)
    ) dut (
        .clk(clk), .rst(rst),
        .in_valid(in_valid), .in_ready(in_ready), .in_data(in_data), .in_last(in_last),
        .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data), .out_last(out_last),
        .csr_valid(csr_valid), .csr_write(csr_write), .csr_addr(csr_addr),
        .csr_wdata(csr_wdata), .csr_rdata(csr_rdata), .csr_err(csr_err),
        .idle(idle), .pkt_done(pkt_done), .pkt_status(pkt_status)
    );

    always #5 clk = ~clk;

    integer cycle = 0;
    integer quiet = 0;
    integer fin, fout, rc;
    integer stall = 0;
    integer seed = 0;
    reg [8*256-1:0] vec_path, log_path;
    reg [3:0] kind;
    reg [31:0] a;
    reg [DW-1:0] d;
    reg in_packet = 1'b0;
    reg stall_out = 1'b0;

    // Monitor: response beats, packet ends, watchdog.
    always @(posedge clk) begin
        cycle <= cycle + 1;
        quiet <= (out_valid && out_ready) || (in_valid && in_ready) || csr_valid ? 0 : quiet + 1;
        if (!rst && out_valid && out_ready) $fdisplay(fout, "O %0d %0d %h", cycle, out_last, out_data);
        if (!rst && pkt_done) $fdisplay(fout, "D %0d %0d", cycle, pkt_status);
        if (quiet > WATCHDOG) begin
            $fdisplay(fout, "TIMEOUT at cycle %0d", cycle);
            $fclose(fout);
            $display("TIMEOUT at cycle %0d", cycle);
            $finish;
        end
        if (stall != 0) stall_out <= ($random(seed) & 3) == 0;
    end
    always @* out_ready = !stall_out;

    task beat(input reg last, input reg [DW-1:0] data);
        begin
            if (stall != 0) begin
                while (($random(seed) & 3) == 0) @(posedge clk);
            end
            in_valid <= 1'b1;
            in_data <= data;
            in_last <= last;
            @(posedge clk);
            while (!in_ready) @(posedge clk);
            if (!in_packet) $fdisplay(fout, "S %0d", cycle);
            in_packet <= !last;
            in_valid <= 1'b0;
        end
    endtask

    // Both the monitor and the tasks read `cycle` before the edge's update.
    task csr(input reg wr, input reg [11:0] addr, input reg [31:0] value);
        begin
            // One edge first: `idle` read right after accepting a one-beat
            // packet still shows the state before that beat.
            @(posedge clk);
            while (!idle || in_packet) @(posedge clk);
            csr_valid <= 1'b1;
            csr_write <= wr;
            csr_addr <= addr;
            csr_wdata <= value;
            @(posedge clk);
            csr_valid <= 1'b0;
            @(posedge clk);
            if (wr) $fdisplay(fout, "C %0d", csr_err);
            else $fdisplay(fout, "R %h %0d", csr_rdata, csr_err);
        end
    endtask

    initial begin
        if (!$value$plusargs("vectors=%s", vec_path)) begin
            $display("missing +vectors=FILE");
            $finish;
        end
        if (!$value$plusargs("log=%s", log_path)) begin
            $display("missing +log=FILE");
            $finish;
        end
        if ($value$plusargs("stall=%d", seed)) stall = 1;
        fin = $fopen(vec_path, "r");
        fout = $fopen(log_path, "w");
        if (fin == 0 || fout == 0) begin
            $display("cannot open vector or log file");
            $finish;
        end
        repeat (3) @(posedge clk);
        rst <= 1'b0;
        @(posedge clk);
        kind = 4'd0;
        while (kind != 4'hF) begin
            rc = $fscanf(fin, "%h %h %h\n", kind, a, d);
            if (rc != 3) kind = 4'hF;
            case (kind)
                4'd0: beat(1'b0, d);
                4'd1: beat(1'b1, d);
                4'd2: csr(1'b1, a[11:0], d[31:0]);
                4'd3: csr(1'b0, a[11:0], 32'd0);
                default: ;
            endcase
        end
        while (!idle || in_packet) @(posedge clk);
        repeat (2) @(posedge clk);
        dut.ram.dump(fout);
        $fdisplay(fout, "END %0d", cycle);
        $fclose(fout);
        $finish;
    end
endmodule

`default_nettype wire
